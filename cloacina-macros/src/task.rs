//! `#[task]`: a task type for an async function, and its description for `workflow!`.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprArray, ExprLit, FnArg, ItemFn, Lit, LitInt, LitStr, MetaNameValue, ReturnType, Token};

/// The rule names `trigger = "..."` accepts, with the variant each stands for.
const TRIGGER_NAMES: [(&str, &str); 6] = [
    ("all_succeeded", "AllSucceeded"),
    ("all_done", "AllDone"),
    ("any_succeeded", "AnySucceeded"),
    ("any_failed", "AnyFailed"),
    ("none_failed", "NoneFailed"),
    ("always", "Always"),
];

/// Everything `#[task(...)]` was given.
#[derive(Default)]
struct Arguments {
    id: Option<LitStr>,
    dependencies: Vec<LitStr>,
    retry_attempts: Option<LitInt>,
    retry_backoff: Option<LitStr>,
    retry_delay_ms: Option<LitInt>,
    retry_max_delay_ms: Option<LitInt>,
    timeout_ms: Option<LitInt>,
    trigger: Option<Expr>,
    concurrency_key: Option<LitStr>,
    concurrency: Option<LitInt>,
    map_over: Option<LitStr>,
    max_parallel: Option<LitInt>,
    map_outputs: Vec<LitStr>,
}

fn string(expression: &Expr, what: &str) -> syn::Result<LitStr> {
    match expression {
        Expr::Lit(ExprLit { lit: Lit::Str(text), .. }) => Ok(text.clone()),
        other => Err(syn::Error::new(other.span(), format!("`{what}` takes a string literal"))),
    }
}

fn strings(expression: &Expr, what: &str) -> syn::Result<Vec<LitStr>> {
    let Expr::Array(ExprArray { elems, .. }) = expression else {
        return Err(syn::Error::new(expression.span(), format!("`{what}` takes a list: [\"a\", \"b\"]")));
    };
    elems.iter().map(|element| string(element, what)).collect()
}

fn integer(expression: &Expr, what: &str) -> syn::Result<LitInt> {
    match expression {
        Expr::Lit(ExprLit { lit: Lit::Int(number), .. }) => Ok(number.clone()),
        other => Err(syn::Error::new(other.span(), format!("`{what}` takes an integer literal"))),
    }
}

impl Arguments {
    fn parse(tokens: TokenStream) -> syn::Result<Self> {
        let pairs = Punctuated::<MetaNameValue, Token![,]>::parse_terminated.parse2(tokens)?;
        let mut arguments = Self::default();
        for pair in pairs {
            let name = pair.path.get_ident().map(ToString::to_string).unwrap_or_default();
            let value = &pair.value;
            match name.as_str() {
                "id" => arguments.id = Some(string(value, "id")?),
                "dependencies" => arguments.dependencies = strings(value, "dependencies")?,
                "retry_attempts" => arguments.retry_attempts = Some(integer(value, "retry_attempts")?),
                "retry_backoff" => {
                    let backoff = string(value, "retry_backoff")?;
                    if !["fixed", "linear", "exponential"].contains(&backoff.value().as_str()) {
                        return Err(syn::Error::new(
                            backoff.span(),
                            "`retry_backoff` is \"fixed\", \"linear\" or \"exponential\"",
                        ));
                    }
                    arguments.retry_backoff = Some(backoff);
                }
                "retry_delay_ms" => arguments.retry_delay_ms = Some(integer(value, "retry_delay_ms")?),
                "retry_max_delay_ms" => arguments.retry_max_delay_ms = Some(integer(value, "retry_max_delay_ms")?),
                "timeout_ms" => arguments.timeout_ms = Some(integer(value, "timeout_ms")?),
                "trigger" => arguments.trigger = Some(value.clone()),
                "concurrency_key" => arguments.concurrency_key = Some(string(value, "concurrency_key")?),
                "concurrency" => arguments.concurrency = Some(integer(value, "concurrency")?),
                "map_over" => arguments.map_over = Some(string(value, "map_over")?),
                "max_parallel" => arguments.max_parallel = Some(integer(value, "max_parallel")?),
                "map_outputs" => arguments.map_outputs = strings(value, "map_outputs")?,
                _ => {
                    return Err(syn::Error::new(
                        pair.path.span(),
                        "unknown argument; #[task] takes id, dependencies, retry_attempts, retry_backoff, \
                         retry_delay_ms, retry_max_delay_ms, timeout_ms, trigger, concurrency_key, concurrency, \
                         map_over, max_parallel and map_outputs",
                    ));
                }
            }
        }
        if arguments.map_over.is_none() {
            if let Some(limit) = &arguments.max_parallel {
                return Err(syn::Error::new(limit.span(), "`max_parallel` needs `map_over = \"...\"`"));
            }
            if let Some(key) = arguments.map_outputs.first() {
                return Err(syn::Error::new(key.span(), "`map_outputs` needs `map_over = \"...\"`"));
            }
        }
        match (&arguments.concurrency_key, &arguments.concurrency) {
            (Some(key), None) => {
                return Err(syn::Error::new(
                    key.span(),
                    "`concurrency_key` needs `concurrency = N`, how many may run at once",
                ));
            }
            (None, Some(limit)) => {
                return Err(syn::Error::new(limit.span(), "`concurrency` needs `concurrency_key = \"...\"`"));
            }
            _ => {}
        }
        Ok(arguments)
    }

    fn retry_policy(&self) -> TokenStream {
        let attempts = self.retry_attempts.as_ref().map_or_else(|| quote!(1), |n| quote!(#n));
        let mut policy = quote!(::cloacina::RetryPolicy::attempts(#attempts));
        if let Some(backoff) = &self.retry_backoff {
            let backoff = match backoff.value().as_str() {
                "fixed" => quote!(::cloacina::Backoff::Fixed),
                "linear" => quote!(::cloacina::Backoff::Linear),
                _ => quote!(::cloacina::Backoff::Exponential { multiplier: 2.0 }),
            };
            policy = quote!(#policy.with_backoff(#backoff));
        }
        if let Some(delay) = &self.retry_delay_ms {
            policy = quote!(#policy.with_initial_delay(::std::time::Duration::from_millis(#delay)));
        }
        if let Some(delay) = &self.retry_max_delay_ms {
            policy = quote!(#policy.with_max_delay(::std::time::Duration::from_millis(#delay)));
        }
        policy
    }

    fn trigger_rule(&self) -> syn::Result<TokenStream> {
        let Some(trigger) = &self.trigger else {
            return Ok(quote!(::cloacina::TriggerRule::AllSucceeded));
        };
        let Expr::Lit(ExprLit { lit: Lit::Str(name), .. }) = trigger else {
            return Ok(quote_spanned!(trigger.span()=> #trigger));
        };
        match TRIGGER_NAMES.iter().find(|(known, _)| *known == name.value()) {
            Some((_, variant)) => {
                let variant = format_ident!("{variant}");
                Ok(quote!(::cloacina::TriggerRule::#variant))
            }
            None => Err(syn::Error::new(
                name.span(),
                format!(
                    "unknown trigger rule `{}`; use one of {}, or a cloacina::TriggerRule expression",
                    name.value(),
                    TRIGGER_NAMES.iter().map(|(known, _)| format!("\"{known}\"")).collect::<Vec<_>>().join(", ")
                ),
            )),
        }
    }
}

/// The type name for a task function: `load_rows` gives `LoadRowsTask`.
pub fn type_name(function: &syn::Ident) -> syn::Ident {
    let camel: String = function
        .to_string()
        .trim_start_matches("r#")
        .split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut characters = part.chars();
            characters
                .next()
                .map(|first| first.to_uppercase().chain(characters).collect::<String>())
                .unwrap_or_default()
        })
        .collect();
    format_ident!("{camel}Task", span = function.span())
}

/// The name of the macro that describes a task to `workflow!`.
pub fn description_macro(function: &syn::Ident) -> syn::Ident {
    format_ident!("__cloacina_task_{}", function.to_string().trim_start_matches("r#"), span = function.span())
}

/// Checks the function's shape: `async fn name(context: &mut Context) -> Result<(), TaskError>`.
fn check_signature(function: &ItemFn) -> syn::Result<()> {
    let signature = &function.sig;
    let expected = "a task is `async fn name(context: &mut Context) -> Result<(), TaskError>`";
    if signature.asyncness.is_none() {
        return Err(syn::Error::new(signature.fn_token.span(), format!("{expected}: add `async`")));
    }
    if signature.inputs.len() != 1 || !matches!(signature.inputs.first(), Some(FnArg::Typed(_))) {
        return Err(syn::Error::new(signature.inputs.span(), format!("{expected}: take exactly the context")));
    }
    if !signature.generics.params.is_empty() {
        return Err(syn::Error::new(signature.generics.span(), format!("{expected}: no generic parameters")));
    }
    if matches!(signature.output, ReturnType::Default) {
        return Err(syn::Error::new(signature.ident.span(), format!("{expected}: return the `Result`")));
    }
    Ok(())
}

/// Expands `#[task(arguments)] item`.
pub fn expand(arguments: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let arguments = Arguments::parse(arguments)?;
    let function: ItemFn = syn::parse2(item)?;
    check_signature(&function)?;
    let name = &function.sig.ident;
    let visibility = &function.vis;
    let task_type = type_name(name);
    let described_by = description_macro(name);
    let id = arguments.id.clone().unwrap_or_else(|| LitStr::new(&name.to_string(), name.span()));
    let dependencies = &arguments.dependencies;
    let retry_policy = arguments.retry_policy();
    let trigger_rule = arguments.trigger_rule()?;
    let timeout = match &arguments.timeout_ms {
        Some(milliseconds) => quote!(::std::option::Option::Some(::std::time::Duration::from_millis(#milliseconds))),
        None => quote!(::std::option::Option::None),
    };
    let concurrency = match (&arguments.concurrency_key, &arguments.concurrency) {
        (Some(key), Some(limit)) => {
            quote!(::std::option::Option::Some(::cloacina::ConcurrencyLimit::new(#key, #limit)))
        }
        _ => quote!(::std::option::Option::None),
    };
    let mapping = match &arguments.map_over {
        Some(key) => {
            let mut mapping = quote!(::cloacina::Mapping::over(#key));
            if let Some(limit) = &arguments.max_parallel {
                mapping = quote!(#mapping.max_parallel(#limit));
            }
            let outputs = &arguments.map_outputs;
            if !outputs.is_empty() {
                mapping = quote!(#mapping.outputs([#(#outputs),*]));
            }
            quote!(::std::option::Option::Some(#mapping))
        }
        None => quote!(::std::option::Option::None),
    };
    let type_doc = format!("The task `{}`, made by `#[task]` from the function `{name}`.", id.value());
    let call_site = Span::call_site();
    let described = quote_spanned! {call_site=>
        #[doc(hidden)]
        #[allow(unused_macros)]
        macro_rules! #described_by {
            ([$($collector:tt)*] $state:tt) => {
                $($collector)*! { $state described { id: #id, dependencies: [#(#dependencies),*], type: #task_type } }
            };
        }
        #[doc(hidden)]
        #[allow(unused_imports)]
        pub(crate) use #described_by;
    };

    Ok(quote! {
        #function

        #[doc = #type_doc]
        #[derive(Debug, Clone)]
        #visibility struct #task_type {
            dependencies: ::std::vec::Vec<::std::string::String>,
        }

        impl #task_type {
            /// The task, ready to add to a workflow.
            #visibility fn new() -> Self {
                Self { dependencies: ::std::vec![#(::std::string::String::from(#dependencies)),*] }
            }
        }

        impl ::std::default::Default for #task_type {
            fn default() -> Self {
                Self::new()
            }
        }

        #[::cloacina::async_trait]
        impl ::cloacina::Task for #task_type {
            fn id(&self) -> &str {
                #id
            }

            fn dependencies(&self) -> &[::std::string::String] {
                &self.dependencies
            }

            fn retry_policy(&self) -> ::cloacina::RetryPolicy {
                #retry_policy
            }

            fn timeout(&self) -> ::std::option::Option<::std::time::Duration> {
                #timeout
            }

            fn trigger_rule(&self) -> ::cloacina::TriggerRule {
                #trigger_rule
            }

            fn concurrency(&self) -> ::std::option::Option<::cloacina::ConcurrencyLimit> {
                #concurrency
            }

            fn mapping(&self) -> ::std::option::Option<::cloacina::Mapping> {
                #mapping
            }

            async fn execute(
                &self,
                mut context: ::cloacina::Context,
            ) -> ::std::result::Result<::cloacina::Context, ::cloacina::TaskError> {
                #name(&mut context).await?;
                ::std::result::Result::Ok(context)
            }
        }

        #described
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_are_upper_camel_case() {
        let name = |text: &str| type_name(&syn::Ident::new(text, Span::call_site())).to_string();
        assert_eq!(name("load"), "LoadTask");
        assert_eq!(name("load_raw_rows"), "LoadRawRowsTask");
        assert_eq!(name("step_01"), "Step01Task");
    }
}
