//! The JSON Schema of lab files, generated from the types that parse them: the file's own types
//! ([`super::model`]), each kind's keys struct ([`crate::lab::validate::ParseSpec::Keys`]),
//! with the keys each kind and each check kind cannot do without read from the parsers
//! themselves ([`super::validate::required_keys`]). Editors that read `#:schema` (Taplo, Even
//! Better TOML) complete and check lab files with it.

use std::borrow::Cow;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};

use super::model::{COMMON_RESOURCE_KEYS, LabFile};
use super::{CheckKind, Kind};

/// Where the bundled labs' `#:schema` directive points, relative to `labs/`.
pub const BUNDLED_DIRECTIVE: &str = "#:schema ../schemas/lab.schema.json";

/// The lab file schema as `schemas/lab.schema.json` holds it (draft 7, which every TOML
/// language server reads).
pub fn lab() -> String {
    let generator = SchemaSettings::draft07().into_generator();
    let mut schema = Value::from(generator.into_root_schema_for::<LabFile>());
    drop_null(&mut schema);
    pretty(&schema)
}

/// The roster file schema as `schemas/roster.schema.json` holds it.
pub fn roster() -> String {
    crate::roster::schema()
}

fn pretty(schema: &Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).unwrap_or_default();
    text.push('\n');
    text
}

/// TOML has no null: an optional key is one that may be left out, never one set to null.
fn drop_null(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if let [one] = types.as_slice() {
                    let one = one.clone();
                    map.insert("type".to_owned(), one);
                }
            }
            for key in ["anyOf", "oneOf"] {
                if let Some(Value::Array(alts)) = map.get_mut(key) {
                    alts.retain(|a| a.get("type").is_none_or(|t| t != "null"));
                    if let [one] = alts.as_slice() {
                        let one = one.clone();
                        map.remove(key);
                        match one {
                            Value::Object(inner) => map.extend(inner),
                            other => {
                                map.insert("allOf".to_owned(), Value::Array(vec![other]));
                            }
                        }
                    }
                }
            }
            if map.get("default").is_some_and(Value::is_null) {
                map.remove("default");
            }
            for value in map.values_mut() {
                drop_null(value);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(drop_null),
        _ => {}
    }
}

/// A `[resources.NAME]` table: its `type` decides which keys it takes and needs.
pub struct ResourceTable;

impl JsonSchema for ResourceTable {
    fn schema_name() -> Cow<'static, str> {
        "Resource".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let common = common_keys(generator);
        let mut branches = Vec::new();
        for &kind in Kind::ALL {
            let keys = kind.keys_schema(generator);
            let mut properties = common.clone();
            if let Some(Value::Object(own)) = keys.get("properties") {
                // A kind's own reading of a common key (a security group's `description`)
                // describes it better.
                properties.extend(own.clone());
            }
            properties.insert("type".to_owned(), json!({ "const": kind.as_str() }));
            let mut required = vec![Value::from("type")];
            required.extend(
                super::validate::required_keys(kind)
                    .into_iter()
                    .map(Value::from),
            );
            let mut then = Map::new();
            if let Some(d) = keys.get("description") {
                then.insert("description".to_owned(), d.clone());
            }
            then.insert("properties".to_owned(), Value::Object(properties));
            then.insert("required".to_owned(), Value::Array(required));
            then.insert("additionalProperties".to_owned(), Value::Bool(false));
            branches.push(json!({
                "if": { "properties": { "type": { "const": kind.as_str() } }, "required": ["type"] },
                "then": Value::Object(then),
            }));
        }
        let mut properties = common;
        properties.insert(
            "type".to_owned(),
            json!({
                "description": "The resource's kind; it decides the other keys of the table.",
                "enum": Kind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
            }),
        );
        let mut schema = Map::new();
        schema.insert(
            "description".to_owned(),
            Value::from("A resource: its `type`, its stage, and that kind's keys."),
        );
        schema.insert("type".to_owned(), Value::from("object"));
        schema.insert("properties".to_owned(), Value::Object(properties));
        schema.insert("required".to_owned(), json!(["type"]));
        schema.insert("allOf".to_owned(), Value::Array(branches));
        Schema::from(schema)
    }
}

/// The keys every resource table may hold, whatever its type (`type` comes with each kind).
fn common_keys(generator: &mut SchemaGenerator) -> Map<String, Value> {
    let mut keys = Map::new();
    for key in COMMON_RESOURCE_KEYS {
        let schema = match *key {
            "stage" => {
                let mut s = generator.subschema_for::<super::Stage>();
                s.insert(
                    "description".to_owned(),
                    Value::from(
                        "`setup`: provided to the student (`awslab up --stage setup` creates it); `solution` (the default): what the student builds.",
                    ),
                );
                s.to_value()
            }
            "description" => json!({
                "description": "What the resource is for (a security group's own description).",
                "type": "string",
            }),
            _ => continue,
        };
        keys.insert((*key).to_owned(), schema);
    }
    keys
}

/// `kind` of a check: one of the check kinds awslab knows.
pub struct CheckKindName;

impl JsonSchema for CheckKindName {
    fn schema_name() -> Cow<'static, str> {
        "CheckKind".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        Schema::from(
            json!({ "type": "string", "enum": CheckKind::NAMES })
                .as_object()
                .cloned()
                .unwrap_or_default(),
        )
    }
}

/// A check's schema gains, for each check kind, the keys that kind cannot do without.
pub fn check_kinds(schema: &mut Schema) {
    let branches: Vec<Value> = CheckKind::NAMES
        .iter()
        .filter_map(|name| {
            let required = super::validate::required_check_keys(name);
            (!required.is_empty()).then(|| {
                json!({
                    "if": { "properties": { "kind": { "const": name } }, "required": ["kind"] },
                    "then": { "required": required },
                })
            })
        })
        .collect();
    schema.insert("allOf".to_owned(), Value::Array(branches));
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::{CheckKind, Kind};

    fn schema() -> Value {
        serde_json::from_str(&super::lab()).expect("the schema is JSON")
    }

    #[test]
    fn the_shipped_lab_schema_is_the_generated_one() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/lab.schema.json");
        let generated = super::lab();
        if std::env::var_os("AWSLAB_UPDATE_SCHEMAS").is_some() {
            std::fs::write(path, &generated).expect("write the schema");
        }
        let shipped = std::fs::read_to_string(path).unwrap_or_default();
        assert_eq!(
            shipped, generated,
            "schemas/lab.schema.json is stale: run AWSLAB_UPDATE_SCHEMAS=1 cargo test --lib schema"
        );
    }

    #[test]
    fn every_kind_is_an_enum_value_with_its_keys_and_required_keys() {
        let s = schema();
        let resource = &s["definitions"]["Resource"];
        let kinds: Vec<&str> = resource["properties"]["type"]["enum"]
            .as_array()
            .expect("enum")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(
            kinds,
            Kind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>()
        );
        let branch = |kind: Kind| -> Value {
            resource["allOf"]
                .as_array()
                .expect("allOf")
                .iter()
                .find(|b| b["if"]["properties"]["type"]["const"] == kind.as_str())
                .map(|b| b["then"].clone())
                .unwrap_or_else(|| panic!("{kind:?}: no branch"))
        };
        for &kind in Kind::ALL {
            let then = branch(kind);
            let props = then["properties"].as_object().expect("properties");
            for key in kind.keys() {
                assert!(
                    props.contains_key(*key),
                    "{kind:?}: `{key}` not in the schema"
                );
            }
            assert_eq!(then["additionalProperties"], false, "{kind:?}");
        }
        let required = |kind: Kind| -> Vec<String> {
            serde_json::from_value(branch(kind)["required"].clone()).expect("required")
        };
        assert_eq!(required(Kind::Subnet), ["type", "vpc", "cidr"]);
        assert_eq!(required(Kind::Vpc), ["type", "cidr"]);
        assert_eq!(required(Kind::ElasticIp), ["type"]);
        assert!(required(Kind::Instance).contains(&"ami".to_owned()));
        // Doc comments are the descriptions.
        assert!(
            branch(Kind::Subnet)["properties"]["az"]["description"]
                .as_str()
                .is_some_and(|d| d.contains("availability zones"))
        );
    }

    #[test]
    fn every_check_kind_is_an_enum_value_and_says_what_it_needs() {
        let s = schema();
        let check = &s["definitions"]["CheckDef"];
        let names: Vec<&str> = s["definitions"]["CheckKind"]["enum"]
            .as_array()
            .expect("enum")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(names, CheckKind::NAMES);
        let needs = |kind: &str| -> Value {
            check["allOf"]
                .as_array()
                .expect("allOf")
                .iter()
                .find(|b| b["if"]["properties"]["kind"]["const"] == kind)
                .map(|b| b["then"]["required"].clone())
                .unwrap_or(Value::Null)
        };
        assert_eq!(needs("reachable"), serde_json::json!(["from", "to"]));
        assert_eq!(
            needs("alb_serves_asg"),
            serde_json::json!(["load_balancer", "auto_scaling_group"])
        );
        assert_eq!(needs("public_subnet"), serde_json::json!(["subnets"]));
        assert_eq!(needs("egress"), serde_json::json!(["via", "from"]));
        assert_eq!(
            needs("efs_mountable"),
            serde_json::json!(["file_system", "instances"])
        );
        assert_eq!(check["additionalProperties"], false);
    }
}
