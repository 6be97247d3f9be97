//! `workflow!`: parses `name`, `description` and `tasks`, then starts gathering the tasks'
//! descriptions (see `collect.rs`).

use proc_macro2::TokenStream;
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Ident, LitStr, Path, Token, bracketed};

use crate::collect::nest_remaining;

/// What `workflow!` was given.
pub struct WorkflowInput {
    pub name: LitStr,
    pub description: Option<LitStr>,
    pub tasks: Punctuated<Path, Token![,]>,
}

impl Parse for WorkflowInput {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut name = None;
        let mut description = None;
        let mut tasks = None;
        while !input.is_empty() {
            let field: Ident = input.parse()?;
            input.parse::<Token![:]>()?;
            match field.to_string().as_str() {
                "name" => name = Some(input.parse::<LitStr>()?),
                "description" => description = Some(input.parse::<LitStr>()?),
                "tasks" => {
                    let content;
                    bracketed!(content in input);
                    tasks = Some(content.parse_terminated(Path::parse, Token![,])?);
                }
                _ => {
                    return Err(syn::Error::new(
                        field.span(),
                        "unknown field; workflow! takes `name: \"...\"`, `description: \"...\"` and `tasks: [...]`",
                    ));
                }
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        let name = name.ok_or_else(|| input.error("workflow! needs `name: \"...\"`"))?;
        if name.value().trim().is_empty() {
            return Err(syn::Error::new(name.span(), "a workflow needs a non-empty name"));
        }
        let tasks = tasks.ok_or_else(|| input.error("workflow! needs `tasks: [...]`"))?;
        if tasks.is_empty() {
            return Err(syn::Error::new(
                name.span(),
                format!("workflow `{}` has no tasks; add at least one task", name.value()),
            ));
        }
        Ok(Self { name, description, tasks })
    }
}

/// Expands `workflow! { ... }` into the first gathering step.
pub fn expand(input: TokenStream) -> syn::Result<TokenStream> {
    let WorkflowInput { name, description, tasks } = syn::parse2(input)?;
    let description = description.map_or_else(|| quote!(none), |text| quote!(#text));
    let remaining = nest_remaining(&tasks.into_iter().collect::<Vec<_>>());
    Ok(quote! {
        ::cloacina::__workflow_collect! {
            { header { name: #name, description: #description } remaining [#remaining] collected [] }
        }
    })
}
