//! The engine crate's integration tests, one binary: decoding Box's real and arbitrary payloads
//! into the generated types, 2xx answers the spec does not list, and the part layout's
//! properties. Payloads live in `tests/examples/`.

mod decode_arbitrary;
mod decode_examples;
mod layout_props;
mod undocumented_success;
