//! The TPM objects and NV indices Strata creates, as templates.

use sha2::{Digest as _, Sha256};
use tss_esapi::{
    attributes::{NvIndexAttributes, NvIndexAttributesBuilder, ObjectAttributesBuilder},
    constants::{CommandCode, nv_index_type::NvIndexType},
    handles::NvIndexTpmHandle,
    interface_types::{
        algorithm::{HashingAlgorithm, PublicAlgorithm},
        ecc::EccCurve,
    },
    structures::{
        Digest, EccPoint, EccScheme, HashScheme, KeyedHashScheme, NvPublic, NvPublicBuilder,
        Public, PublicBuilder, PublicEccParametersBuilder, PublicKeyedHashParameters,
        SymmetricDefinitionObject,
    },
};

/// Bytes in the platform record: the platform's Ed25519 key, then the counter base.
pub(crate) const PLATFORM_RECORD_LEN: usize = 32 + 8;
/// Bytes in an NV counter.
pub(crate) const COUNTER_LEN: usize = 8;

/// The storage primary key: ECC P-256, restricted decryption, AES-128-CFB for its children,
/// an all-empty `unique`. `TPM2_CreatePrimary` derives it from the owner seed, so the same
/// template gives the same key on every boot of this TPM, and a different key on any other
/// TPM (or after `tpm2_clear`, which changes the seed).
pub(crate) fn storage_primary() -> tss_esapi::Result<Public> {
    let attributes = ObjectAttributesBuilder::new()
        .with_fixed_tpm(true)
        .with_fixed_parent(true)
        .with_sensitive_data_origin(true)
        .with_user_with_auth(true)
        .with_no_da(true)
        .with_restricted(true)
        .with_decrypt(true)
        .build()?;
    PublicBuilder::new()
        .with_public_algorithm(PublicAlgorithm::Ecc)
        .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
        .with_object_attributes(attributes)
        .with_ecc_parameters(
            PublicEccParametersBuilder::new_restricted_decryption_key(
                SymmetricDefinitionObject::AES_128_CFB,
                EccCurve::NistP256,
            )
            .build()?,
        )
        .with_ecc_unique_identifier(EccPoint::default())
        .build()
}

/// The sealed model key: a KeyedHash data object the TPM will only hand back through
/// `TPM2_Unseal` (no sign/decrypt use), bound to this TPM and parent.
pub(crate) fn sealed_data() -> tss_esapi::Result<Public> {
    let attributes = ObjectAttributesBuilder::new()
        .with_fixed_tpm(true)
        .with_fixed_parent(true)
        .with_user_with_auth(true)
        .with_no_da(true)
        .build()?;
    PublicBuilder::new()
        .with_public_algorithm(PublicAlgorithm::KeyedHash)
        .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
        .with_object_attributes(attributes)
        .with_keyed_hash_parameters(PublicKeyedHashParameters::new(KeyedHashScheme::Null))
        .with_keyed_hash_unique_identifier(Digest::default())
        .build()
}

/// The device identity: an ECDSA P-256 (SHA-256) signing key generated inside the TPM
/// (`sensitiveDataOrigin`) that can never leave it (`fixedTPM`, `fixedParent`).
pub(crate) fn identity_key() -> tss_esapi::Result<Public> {
    let attributes = ObjectAttributesBuilder::new()
        .with_fixed_tpm(true)
        .with_fixed_parent(true)
        .with_sensitive_data_origin(true)
        .with_user_with_auth(true)
        .with_no_da(true)
        .with_sign_encrypt(true)
        .build()?;
    PublicBuilder::new()
        .with_public_algorithm(PublicAlgorithm::Ecc)
        .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
        .with_object_attributes(attributes)
        .with_ecc_parameters(
            PublicEccParametersBuilder::new_unrestricted_signing_key(
                EccScheme::EcDsa(HashScheme::new(HashingAlgorithm::Sha256)),
                EccCurve::NistP256,
            )
            .build()?,
        )
        .with_ecc_unique_identifier(EccPoint::default())
        .build()
}

/// Whether `public` is an identity key made from [`identity_key`]: same attributes and
/// parameters, whatever the point.
pub(crate) fn is_identity_key(public: &Public) -> bool {
    let Ok(Public::Ecc {
        object_attributes: want_attributes,
        parameters: want_parameters,
        ..
    }) = identity_key()
    else {
        return false;
    };
    matches!(public, Public::Ecc { object_attributes, parameters, name_hashing_algorithm, .. }
        if *object_attributes == want_attributes
            && *parameters == want_parameters
            && *name_hashing_algorithm == HashingAlgorithm::Sha256)
}

/// The model-version counter: an NV counter (it can only go up, and a new counter starts at
/// the highest value any counter on this TPM ever had), incremented with owner
/// authorization, readable with the (empty) index authorization.
pub(crate) fn counter(index: NvIndexTpmHandle) -> tss_esapi::Result<NvPublic> {
    let attributes = NvIndexAttributesBuilder::new()
        .with_nv_index_type(NvIndexType::Counter)
        .with_owner_write(true)
        .with_auth_read(true)
        .with_owner_read(true)
        .with_no_da(true)
        .build()?;
    NvPublicBuilder::new()
        .with_nv_index(index)
        .with_index_name_algorithm(HashingAlgorithm::Sha256)
        .with_index_attributes(attributes)
        .with_data_area_size(COUNTER_LEN)
        .build()
}

/// The platform record: write-once. The only write authorization is the policy
/// `PolicyCommandCode(NV_Write) ∧ PolicyNvWritten(NO)`, which can be met only while the
/// index has never been written; after the first write the TPM refuses every write.
pub(crate) fn platform_record(index: NvIndexTpmHandle) -> tss_esapi::Result<NvPublic> {
    let attributes = NvIndexAttributesBuilder::new()
        .with_nv_index_type(NvIndexType::Ordinary)
        .with_policy_write(true)
        .with_auth_read(true)
        .with_owner_read(true)
        .with_no_da(true)
        .build()?;
    NvPublicBuilder::new()
        .with_nv_index(index)
        .with_index_name_algorithm(HashingAlgorithm::Sha256)
        .with_index_attributes(attributes)
        .with_index_auth_policy(Digest::try_from(write_once_policy().to_vec())?)
        .with_data_area_size(PLATFORM_RECORD_LEN)
        .build()
}

/// Whether `found` (read from the TPM) is an index made from `expected`: same attributes
/// apart from the written flag, same policy and size.
pub(crate) fn same_nv_index(found: &NvPublic, expected: &NvPublic) -> bool {
    let mask = |a: NvIndexAttributes| u32::try_from(a).ok().map(|bits| bits & !WRITTEN);
    let found_attributes = mask(found.attributes());
    found_attributes.is_some()
        && found_attributes == mask(expected.attributes())
        && found.authorization_policy() == expected.authorization_policy()
        && found.data_size() == expected.data_size()
        && found.name_algorithm() == expected.name_algorithm()
}

/// `TPMA_NV_WRITTEN`.
const WRITTEN: u32 = 1 << 29;

/// The policy digest of `PolicyCommandCode(TPM_CC_NV_Write)` then `PolicyNvWritten(NO)`
/// (TPM 2.0 part 3, 23.11 and 23.22): each step is `digest = SHA-256(digest || TPM_CC ||
/// argument)`, from 32 zero bytes.
pub(crate) fn write_once_policy() -> [u8; 32] {
    const TPM_CC_POLICY_COMMAND_CODE: u32 = 0x0000_016C;
    const TPM_CC_POLICY_NV_WRITTEN: u32 = 0x0000_018F;
    let nv_write = u32::from(CommandCode::NvWrite);
    let step1: [u8; 32] = Sha256::new()
        .chain_update([0u8; 32])
        .chain_update(TPM_CC_POLICY_COMMAND_CODE.to_be_bytes())
        .chain_update(nv_write.to_be_bytes())
        .finalize()
        .into();
    Sha256::new()
        .chain_update(step1)
        .chain_update(TPM_CC_POLICY_NV_WRITTEN.to_be_bytes())
        .chain_update([0u8]) // writtenSet = NO
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_build() {
        assert!(storage_primary().is_ok());
        assert!(sealed_data().is_ok());
        let identity = identity_key().expect("identity template");
        assert!(is_identity_key(&identity));
        assert!(!is_identity_key(&storage_primary().expect("primary")));
        let index = NvIndexTpmHandle::new(0x0180_5301).expect("nv index");
        let counter = counter(index).expect("counter");
        let record = platform_record(index).expect("record");
        assert!(same_nv_index(&counter, &counter));
        assert!(!same_nv_index(&counter, &record));
    }

    #[test]
    fn the_write_once_policy_matches_the_spec_constant_order() {
        // TPM_CC_NV_Write is 0x137; recomputing by hand pins the byte layout.
        assert_eq!(u32::from(CommandCode::NvWrite), 0x0000_0137);
        let mut first = Vec::new();
        first.extend_from_slice(&[0u8; 32]);
        first.extend_from_slice(&[0, 0, 0x01, 0x6C, 0, 0, 0x01, 0x37]);
        let step1 = Sha256::digest(&first);
        let mut second = step1.to_vec();
        second.extend_from_slice(&[0, 0, 0x01, 0x8F, 0]);
        assert_eq!(
            write_once_policy().as_slice(),
            Sha256::digest(&second).as_slice()
        );
    }
}
