//! The keys of resource tables: a kind's keys are the fields of its [`ParseSpec::Keys`]
//! struct, read from serde's own description of the struct; every key some kind takes is
//! known to the parser.

use std::sync::OnceLock;

use serde::de::{self, Deserializer, Visitor};

use super::ParseSpec;
use crate::lab::Kind;
use crate::lab::model::COMMON_RESOURCE_KEYS;

/// The field names of a struct that derives `Deserialize`, as serde hands them to the
/// deserializer (in declaration order).
fn keys_of<'de, T: de::Deserialize<'de>>() -> &'static [&'static str] {
    let mut names = FieldNames(&[]);
    // The deserializer stops at the struct: the error is the expected outcome.
    let _ = T::deserialize(&mut names);
    names.0
}

/// Every key a `[resources.NAME]` table may hold: the common ones and each kind's (worked out
/// once).
pub fn resource_keys() -> &'static [&'static str] {
    static KEYS: OnceLock<Vec<&'static str>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut keys: Vec<&'static str> = COMMON_RESOURCE_KEYS.to_vec();
        for k in Kind::ALL {
            for key in k.keys() {
                if !keys.contains(key) {
                    keys.push(key);
                }
            }
        }
        keys
    })
}

/// A deserializer that only records the fields a struct asks for.
struct FieldNames(&'static [&'static str]);

impl<'de> Deserializer<'de> for &mut FieldNames {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("only a struct's field names are read"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0 = fields;
        Err(de::Error::custom("only a struct's field names are read"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// Used by the registry: the keys of a kind's spec.
pub(crate) fn spec_keys<S: ParseSpec>() -> &'static [&'static str] {
    keys_of::<S::Keys>()
}
