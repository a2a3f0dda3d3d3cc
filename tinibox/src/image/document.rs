//! The one JSON entry point for OCI image documents (index, manifest, config), shared by the
//! loader and the store, so that each document type's deserialisation code exists once.

/// Parses an OCI image document (index, manifest, config) from its bytes, with oci-spec's
/// error type. Every document goes through this one `serde_json::from_slice` rather than
/// oci-spec's `from_reader`/`from_file`, whose reader types (`&[u8]`, `File`, `BufReader`)
/// each made the binary carry another copy of the same deserialisation code
/// (BENCHMARKS.md, "Footprint"). The workspace's clippy.toml refuses those readers.
pub(crate) fn parse_document<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
) -> std::result::Result<T, oci_spec::OciSpecError> {
    serde_json::from_slice(bytes).map_err(oci_spec::OciSpecError::from)
}
