//! Stage 2: `openapiv3::OpenAPI` -> [`crate::ir::Api`]. Every problem found is collected; the IR
//! is returned only for a document with none.

mod form;
mod operations;
pub use operations::status_name;
mod path_refs;
mod recursion;
mod refs;
mod scalar;
mod types;

use crate::diag::Problems;
use crate::ir::Api;

pub fn lower(api: &openapiv3::OpenAPI) -> Result<Api, Problems> {
    let mut path_problems = Problems::default();
    let inlined = path_refs::inline(api, &mut path_problems);
    let api: &openapiv3::OpenAPI = &inlined;
    let mut types = types::TypeLower::new(api);
    types.lower_components();
    let (operations, servers, mut problems) = operations::lower_operations(api, &mut types);
    let (type_defs, type_problems, examples) = types.finish();
    // Type problems first: they are usually the cause of operation problems.
    let mut all = type_problems;
    for p in path_problems.list() {
        all.push(p.pointer.clone(), p.message.clone());
    }
    for p in problems.list() {
        all.push(p.pointer.clone(), p.message.clone());
    }
    problems = all;
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Api {
        title: api.info.title.clone(),
        types: type_defs,
        operations,
        servers,
        examples,
    })
}
