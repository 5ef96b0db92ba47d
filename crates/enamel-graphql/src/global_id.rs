//! Opaque global ids: `base64url("<Type>:<uuid>")`, so `node(id:)` can find any object
//! and callers never build ids by hand.

use async_graphql::ID;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use crate::error::ApiError;

/// The global id of object `type_name` with internal id `id`.
pub fn encode(type_name: &str, id: Uuid) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{type_name}:{id}")))
}

/// Splits a global id into its type name and internal id.
pub fn decode(id: &str) -> Result<(String, Uuid), ApiError> {
    let invalid = || ApiError::bad_input(format!("{id:?} is not an id this API issued"));
    let bytes = URL_SAFE_NO_PAD.decode(id.trim()).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (type_name, uuid) = text.split_once(':').ok_or_else(invalid)?;
    let uuid = Uuid::parse_str(uuid).map_err(|_| invalid())?;
    Ok((type_name.to_owned(), uuid))
}

/// The internal id of a global id that must name a `type_name`.
pub fn decode_as(id: &ID, type_name: &str) -> Result<Uuid, ApiError> {
    let (found, uuid) = decode(id)?;
    if found != type_name {
        return Err(ApiError::bad_input(format!("expected the id of a {type_name}, got the id of a {found}")));
    }
    Ok(uuid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_foreign_text() {
        let uuid = Uuid::now_v7();
        let id = encode("Patient", uuid);
        assert_eq!(decode(&id).ok(), Some(("Patient".to_owned(), uuid)));
        assert_eq!(decode_as(&id, "Patient").ok(), Some(uuid));
        assert!(decode_as(&id, "Appointment").is_err());
        assert!(decode("not base64!").is_err());
        assert!(decode(&URL_SAFE_NO_PAD.encode("Patient:nope")).is_err());
    }
}
