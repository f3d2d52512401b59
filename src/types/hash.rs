//! A hash: a listpack of field/value pairs while small, a hashtable past `hash-max-listpack-*`.
//! (Skeleton: the collections step fills this in.)

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Hash {}

impl Hash {
    pub fn len(&self) -> usize {
        0
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        "listpack"
    }

    /// Bytes of heap memory the value uses.
    pub fn heap_bytes(&self) -> usize {
        0
    }
}
