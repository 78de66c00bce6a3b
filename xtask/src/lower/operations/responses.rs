//! An operation's responses: its successes (each a variant with its body and headers), its
//! error statuses with their `x-error-codes`, and its `default` error.

use openapiv3::{Operation as OaOperation, ParameterSchemaOrContent, Response, StatusCode};

use super::bodies::{media_kind, Media};
use super::{ext_str, Ctx};
use crate::diag::join;
use crate::ir::{
    ErrorCode, ErrorStatus, ResponseHeader, RustIdent, StatusMatch, Success, SuccessBody, Ty,
    TypeName,
};
use crate::lower::types::SRef;
use crate::names::{pascal, snake, Unique};

/// Box-style reason phrases used to name status variants.
pub fn status_name(status: u16) -> String {
    match status {
        200 => "Ok",
        201 => "Created",
        202 => "Accepted",
        203 => "NonAuthoritative",
        204 => "NoContent",
        206 => "PartialContent",
        304 => "NotModified",
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        406 => "NotAcceptable",
        408 => "RequestTimeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "LengthRequired",
        412 => "PreconditionFailed",
        413 => "PayloadTooLarge",
        415 => "UnsupportedMediaType",
        416 => "RangeNotSatisfiable",
        422 => "UnprocessableEntity",
        429 => "TooManyRequests",
        500 => "InternalServerError",
        501 => "NotImplemented",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        other => return format!("Status{other}"),
    }
    .to_string()
}

impl<'a> Ctx<'a, '_> {
    /// The JSON schema type of a response, if it has a JSON body (the first media type decides).
    fn response_body(&mut self, resp: &'a Response, at: &str, hint: &str) -> SuccessBody {
        let Some((media, content)) = resp.content.first() else {
            return SuccessBody::None;
        };
        if !matches!(media_kind(media), Some(Media::Json)) {
            return SuccessBody::Bytes;
        }
        match &content.schema {
            Some(schema) => {
                let media_at = join(&format!("{at}/content"), media);
                let (ty, nullable) =
                    self.types
                        .ty(SRef::from(schema), &format!("{media_at}/schema"), hint);
                self.media_examples(content, &media_at, &ty, nullable);
                SuccessBody::Json(ty)
            }
            None => SuccessBody::Json(Ty::Value),
        }
    }

    /// The operation's successes, error statuses and `default` error type.
    #[allow(clippy::type_complexity)]
    pub(super) fn responses(
        &mut self,
        op: &'a OaOperation,
        pointer: &str,
        type_name: &TypeName,
    ) -> (Vec<Success>, Vec<ErrorStatus>, Option<Ty>) {
        let mut successes = Vec::new();
        let mut errors = Vec::new();
        let mut success_names = Unique::default();
        // Successes documented, a `2XX` range included: with more than one, each gets a type
        // named after its variant.
        let two_xx = op
            .responses
            .responses
            .keys()
            .filter(|s| match s {
                StatusCode::Code(c) => (200..300).contains(c),
                StatusCode::Range(r) => *r == 2,
            })
            .count();
        for (status, response) in &op.responses.responses {
            let key = match status {
                StatusCode::Code(c) => c.to_string(),
                StatusCode::Range(r) => format!("{r}XX"),
            };
            let at = join(pointer, &key);
            let Some((resp, resp_at)) = self.resolve(response, &at) else {
                continue;
            };
            let rust_name = ext_str(&resp.extensions, "x-rust-name").map(pascal);
            match *status {
                StatusCode::Code(code) if (200..300).contains(&code) => {
                    let variant = TypeName::new(
                        success_names.take(&rust_name.unwrap_or_else(|| status_name(code))),
                    );
                    let hint = if two_xx > 1 {
                        format!("{type_name}{variant}")
                    } else {
                        format!("{type_name}Response")
                    };
                    let body = self.response_body(resp, &resp_at, &hint);
                    let headers = self.response_headers(resp, &resp_at, &hint);
                    successes.push(Success {
                        status: StatusMatch::Code(code),
                        variant,
                        body,
                        headers,
                        doc: Some(resp.description.clone()),
                    });
                }
                // `2XX` covers every 2xx status not listed beside it (all of them when alone).
                StatusCode::Range(2) => {
                    let variant = TypeName::new(
                        success_names.take(&rust_name.unwrap_or_else(|| "Success".to_string())),
                    );
                    let hint = if two_xx > 1 {
                        format!("{type_name}{variant}")
                    } else {
                        format!("{type_name}Response")
                    };
                    let body = self.response_body(resp, &resp_at, &hint);
                    let headers = self.response_headers(resp, &resp_at, &hint);
                    successes.push(Success {
                        status: StatusMatch::Range(2),
                        variant,
                        body,
                        headers,
                        doc: Some(resp.description.clone()),
                    });
                }
                StatusCode::Code(code) if code < 200 => {
                    self.problems.push(&at, "1xx responses are not supported");
                }
                _ => {
                    let status_match = match *status {
                        StatusCode::Code(c) => StatusMatch::Code(c),
                        StatusCode::Range(r) => StatusMatch::Range(r),
                    };
                    let hint = format!("{type_name}Error{key}");
                    let payload = match self.response_body(resp, &resp_at, &hint) {
                        SuccessBody::Json(ty) => ty,
                        _ => Ty::Value,
                    };
                    let codes = self.error_codes(resp, &resp_at);
                    errors.push(ErrorStatus {
                        status: status_match,
                        payload,
                        name: rust_name.map(TypeName::new),
                        codes,
                        doc: Some(resp.description.clone()),
                    });
                }
            }
        }
        let default_error = op.responses.default.as_ref().and_then(|d| {
            let at = format!("{pointer}/default");
            let (resp, resp_at) = self.resolve(d, &at)?;
            match self.response_body(resp, &resp_at, &format!("{type_name}DefaultError")) {
                SuccessBody::Json(ty) => Some(ty),
                _ => Some(Ty::Value),
            }
        });
        (successes, errors, default_error)
    }

    /// A success's headers, typed as integers, booleans or text.
    fn response_headers(
        &mut self,
        resp: &'a Response,
        at: &str,
        hint: &str,
    ) -> Vec<ResponseHeader> {
        let mut out = Vec::new();
        let mut names = Unique::default();
        for (name, header) in &resp.headers {
            let header_at = join(&format!("{at}/headers"), name);
            let Some((header, _)) = self.resolve(header, &header_at) else {
                continue;
            };
            let ty = match &header.format {
                ParameterSchemaOrContent::Schema(schema) => {
                    let (ty, _) = self.types.ty(
                        SRef::from(schema),
                        &format!("{header_at}/schema"),
                        &format!("{hint}{}", pascal(name)),
                    );
                    match ty {
                        Ty::I32 | Ty::I64 => Ty::I64,
                        Ty::Bool => Ty::Bool,
                        _ => Ty::String,
                    }
                }
                ParameterSchemaOrContent::Content(_) => Ty::String,
            };
            out.push(ResponseHeader {
                wire: name.to_ascii_lowercase(),
                rust: RustIdent::new(names.take(&snake(name))),
                ty,
                doc: header.description.clone(),
            });
        }
        out
    }

    /// A response's `x-error-codes`.
    fn error_codes(&mut self, resp: &Response, at: &str) -> Vec<ErrorCode> {
        let Some(value) = resp.extensions.get("x-error-codes") else {
            return Vec::new();
        };
        let at = format!("{at}/x-error-codes");
        let Some(list) = value.as_array() else {
            self.problems
                .push(&at, "x-error-codes must be a list of {code, description}");
            return Vec::new();
        };
        let mut codes = Vec::new();
        for (i, entry) in list.iter().enumerate() {
            match entry.get("code").and_then(|c| c.as_str()) {
                Some(code) if !code.is_empty() => codes.push(ErrorCode {
                    code: code.to_string(),
                    description: entry
                        .get("description")
                        .and_then(|d| d.as_str())
                        .map(str::to_owned),
                }),
                _ => self.problems.push(
                    format!("{at}/{i}"),
                    "each x-error-codes entry needs a non-empty string `code`",
                ),
            }
        }
        codes
    }
}
