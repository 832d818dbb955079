//! TEMPORARY stub, replaced by the real signing module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureVersion {
    V1,
    V2,
}
impl SignatureVersion {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "1" => Some(Self::V1),
            "2" => Some(Self::V2),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "1",
            Self::V2 => "2",
        }
    }
}
pub struct Signer;
impl Signer {
    pub fn generate() -> Signer {
        Signer
    }
    pub fn certificate_pem(&self) -> &str {
        ""
    }
    pub fn sign(&self, _s: &str, _v: SignatureVersion) -> String {
        String::new()
    }
}
pub fn string_to_sign(fields: &[(&str, &str)]) -> String {
    fields.iter().map(|(k, v)| format!("{k}\n{v}\n")).collect()
}
