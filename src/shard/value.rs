//! What a key holds. Strings keep Redis's three encodings because OBJECT ENCODING shows them
//! and because an integer stored as `i64` is both smaller and faster for INCR.

/// Strings up to this length use the compact `embstr` encoding (Redis's OBJ_ENCODING_EMBSTR_SIZE_LIMIT).
pub const EMBSTR_MAX_BYTES: usize = 44;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(Str),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Str {
    Int(i64),
    Emb(Box<[u8]>),
    Raw(Vec<u8>),
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(Str::Int(_)) => "int",
            Value::Str(Str::Emb(_)) => "embstr",
            Value::Str(Str::Raw(_)) => "raw",
        }
    }

    /// A bytes value the way SET stores it: integers that round-trip become `int`.
    pub fn from_bytes(b: &[u8]) -> Value {
        Value::Str(Str::from_bytes(b))
    }

    /// Bytes of heap memory the value uses, for INFO and MEMORY USAGE estimates.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Value::Str(Str::Int(_)) => 0,
            Value::Str(Str::Emb(b)) => b.len(),
            Value::Str(Str::Raw(v)) => v.capacity(),
        }
    }
}

impl Str {
    pub fn from_bytes(b: &[u8]) -> Str {
        if b.len() <= 20
            && let Some(i) = crate::resp::parse::parse_i64(b)
        {
            return Str::Int(i);
        }
        if b.len() <= EMBSTR_MAX_BYTES { Str::Emb(b.into()) } else { Str::Raw(b.to_vec()) }
    }

    /// Calls `f` with the string's bytes; integers are formatted on the stack.
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Str::Int(i) => {
                let mut tmp = [0u8; 24];
                let n = crate::resp::write::format_i64(&mut tmp, *i);
                f(&tmp[..n])
            }
            Str::Emb(b) => f(b),
            Str::Raw(v) => f(v),
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.with_bytes(|b| b.to_vec())
    }

    pub fn len(&self) -> usize {
        match self {
            Str::Int(i) => {
                let mut tmp = [0u8; 24];
                crate::resp::write::format_i64(&mut tmp, *i)
            }
            Str::Emb(b) => b.len(),
            Str::Raw(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Turns the string into a growable buffer for APPEND/SETRANGE (which Redis stores raw).
    pub fn make_raw(&mut self) -> &mut Vec<u8> {
        if !matches!(self, Str::Raw(_)) {
            *self = Str::Raw(self.to_vec());
        }
        match self {
            Str::Raw(v) => v,
            _ => unreachable!("just made raw"),
        }
    }
}
