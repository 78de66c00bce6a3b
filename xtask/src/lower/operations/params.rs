//! An operation's parameters (its path item's, overridden by its own): location, type, and
//! how each is written on the wire.

use indexmap::IndexMap;
use openapiv3::{
    Operation as OaOperation, Parameter, ParameterSchemaOrContent, PathItem, QueryStyle,
};

use super::Ctx;
use crate::ir::{Param, ParamIn, ParamStyle, RustIdent, Ty, TypeName};
use crate::lower::scalar;
use crate::lower::types::SRef;
use crate::names::{pascal, snake, Unique};

impl<'a> Ctx<'a, '_> {
    /// The operation's parameters: the path item's, overridden by the operation's own of the
    /// same name and location.
    pub(super) fn params(
        &mut self,
        item: &'a PathItem,
        op: &'a OaOperation,
        pointer: &str,
        type_name: &TypeName,
        names: &mut Unique,
    ) -> Vec<Param> {
        let path_pointer = pointer
            .rsplit_once('/')
            .map(|(p, _)| p.to_string())
            .unwrap_or_default();
        let mut by_key: IndexMap<(String, &'static str), Param> = IndexMap::new();
        let lists = [
            (&item.parameters, format!("{path_pointer}/parameters")),
            (&op.parameters, format!("{pointer}/parameters")),
        ];
        for (list, list_pointer) in lists {
            for (i, param) in list.iter().enumerate() {
                let at = format!("{list_pointer}/{i}");
                let Some((param, at)) = self.resolve(param, &at) else {
                    continue;
                };
                let (location, query_style) = match param {
                    Parameter::Path { .. } => (ParamIn::Path, None),
                    Parameter::Query { style, .. } => (ParamIn::Query, Some(style)),
                    Parameter::Header { .. } => (ParamIn::Header, None),
                    Parameter::Cookie { .. } => {
                        self.problems
                            .push(&at, "cookie parameters are not supported");
                        continue;
                    }
                };
                let data = param.parameter_data_ref();
                let ty = match &data.format {
                    ParameterSchemaOrContent::Schema(schema) => {
                        let hint = format!("{type_name}{}", pascal(&data.name));
                        let (ty, _) =
                            self.types
                                .ty(SRef::from(schema), &format!("{at}/schema"), &hint);
                        ty
                    }
                    ParameterSchemaOrContent::Content(_) => {
                        self.problems.push(
                            &at,
                            "parameters described by `content` are not supported; use `schema`",
                        );
                        continue;
                    }
                };
                let kind = match location {
                    ParamIn::Path => "path",
                    ParamIn::Query => "query",
                    ParamIn::Header => "header",
                };
                // A parameter's example is its value, not its wire text: an array is an array.
                if let Some(value) = &data.example {
                    self.types
                        .record_example(format!("{at}/example"), &ty, !data.required, value);
                }
                let explode = data.explode.unwrap_or(location == ParamIn::Query);
                let Some((style, text_ty)) =
                    self.param_style(&ty, location, query_style, explode, &at)
                else {
                    continue;
                };
                let key = (data.name.to_ascii_lowercase(), kind);
                let rust = match by_key.get(&key) {
                    Some(existing) => existing.rust.clone(),
                    None => RustIdent::new(names.take(&snake(&data.name))),
                };
                let wire = if location == ParamIn::Header {
                    data.name.to_ascii_lowercase()
                } else {
                    data.name.clone()
                };
                by_key.insert(
                    key,
                    Param {
                        wire,
                        rust,
                        location,
                        ty,
                        required: data.required || location == ParamIn::Path,
                        style,
                        text_ty,
                        doc: data.description.clone(),
                    },
                );
            }
        }
        by_key.into_values().collect()
    }

    /// How a parameter of type `ty` is written, with the type its text comes from (see
    /// [`Param::text_ty`]), or `None` (with the problem reported at `at`) when the generator has
    /// no encoding for it.
    fn param_style(
        &mut self,
        ty: &Ty,
        location: ParamIn,
        query_style: Option<&QueryStyle>,
        explode: bool,
        at: &str,
    ) -> Option<(ParamStyle, Ty)> {
        let unsupported = match query_style {
            Some(QueryStyle::SpaceDelimited) => Some("spaceDelimited"),
            Some(QueryStyle::PipeDelimited) => Some("pipeDelimited"),
            Some(QueryStyle::DeepObject) => Some("deepObject"),
            Some(QueryStyle::Form) | None => None,
        };
        if let Some(style) = unsupported {
            self.problems.push(
                at,
                format!(
                    "query parameter style `{style}` is not supported: use `form` (the default)"
                ),
            );
            return None;
        }
        let resolved = scalar::resolve(self.types, ty);
        let item = match &resolved {
            Some(Ty::Vec(item)) => scalar::resolve(self.types, item),
            _ => None,
        };
        let shape = match (resolved, item) {
            (Some(Ty::Binary) | None, _) => None,
            (Some(t), _) if scalar::is_scalar(self.types, &t) => Some((ParamStyle::Scalar, t)),
            (Some(Ty::Vec(_)), Some(item)) if scalar::is_scalar(self.types, &item) => {
                let style = if explode && location == ParamIn::Query {
                    ParamStyle::Repeat
                } else {
                    ParamStyle::Csv
                };
                Some((style, item))
            }
            (Some(other), _) => Some((ParamStyle::Json, other)),
        };
        match (shape, location) {
            (Some((ParamStyle::Json, t)), ParamIn::Query) => Some((ParamStyle::Json, t)),
            (Some((style @ (ParamStyle::Scalar | ParamStyle::Csv | ParamStyle::Repeat), t)), _) => {
                Some((style, t))
            }
            _ => {
                self.problems.push(
                    at,
                    "this parameter's schema has no supported encoding: path and header parameters \
                     must be scalars or arrays of scalars, query parameters must not be binary",
                );
                None
            }
        }
    }
}
