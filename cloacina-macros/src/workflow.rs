//! `workflow!`: parses `name`, `description` and `tasks`, then starts gathering the Rust tasks'
//! descriptions (see `collect.rs`); Python tasks, `python("package.module:function")`, ride
//! along in the header, to be loaded when the workflow is built.

use proc_macro2::TokenStream;
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Ident, LitStr, Path, Token, bracketed, parenthesized};

use crate::collect::nest_remaining;

/// What `workflow!` was given.
pub struct WorkflowInput {
    pub name: LitStr,
    pub description: Option<LitStr>,
    /// The Rust tasks.
    pub tasks: Vec<Path>,
    /// The Python tasks, `python("package.module:function")`, loaded when the workflow is built.
    pub python: Vec<LitStr>,
}

/// One entry of `tasks: [...]`.
enum Entry {
    Rust(Path),
    Python(LitStr),
}

impl Parse for Entry {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(Ident) && input.peek2(syn::token::Paren) {
            let word: Ident = input.parse()?;
            if word != "python" {
                return Err(syn::Error::new(
                    word.span(),
                    "a task is the name of a #[task] function, or `python(\"package.module:function\")`",
                ));
            }
            let content;
            parenthesized!(content in input);
            let name: LitStr = content.parse()?;
            if !content.is_empty() {
                return Err(content.error("`python(...)` takes one string: \"package.module:function\""));
            }
            return Ok(Self::Python(name));
        }
        input.parse().map(Self::Rust)
    }
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
                    tasks = Some(Punctuated::<Entry, Token![,]>::parse_terminated(&content)?);
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
        let (mut rust, mut python) = (Vec::new(), Vec::new());
        for entry in tasks {
            match entry {
                Entry::Rust(path) => rust.push(path),
                Entry::Python(name) => python.push(name),
            }
        }
        Ok(Self { name, description, tasks: rust, python })
    }
}

/// Expands `workflow! { ... }` into the first gathering step.
pub fn expand(input: TokenStream) -> syn::Result<TokenStream> {
    let WorkflowInput { name, description, tasks, python } = syn::parse2(input)?;
    let description = description.map_or_else(|| quote!(none), |text| quote!(#text));
    let remaining = nest_remaining(&tasks);
    Ok(quote! {
        ::cloacina::__workflow_collect! {
            { header { name: #name, description: #description, python: [#(#python),*] }
              remaining [#remaining] collected [] }
        }
    })
}
