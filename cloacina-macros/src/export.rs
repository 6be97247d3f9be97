//! `python_tasks!`: the `PyInit_` function of a Python extension module exporting Rust tasks
//! (see `cloacina::abi::export`).

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Ident, LitCStr, Path, Token, bracketed};

use crate::task::type_name;

/// `module_name, [task, path::to::task, ...]`.
struct Input {
    module: Ident,
    tasks: Punctuated<Path, Token![,]>,
}

impl Parse for Input {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let module: Ident = input.parse()?;
        input.parse::<Token![,]>()?;
        let content;
        bracketed!(content in input);
        let tasks = content.parse_terminated(Path::parse, Token![,])?;
        if !input.is_empty() {
            input.parse::<Token![,]>()?;
        }
        if tasks.is_empty() {
            return Err(syn::Error::new(module.span(), "python_tasks! needs at least one task: `[task_a, task_b]`"));
        }
        Ok(Self { module, tasks })
    }
}

/// Expands `python_tasks!(module_name, [a, b])`.
pub fn expand(input: TokenStream) -> syn::Result<TokenStream> {
    let Input { module, tasks } = syn::parse2(input)?;
    let init = format_ident!("PyInit_{}", module);
    let name = std::ffi::CString::new(module.to_string())
        .map_err(|_| syn::Error::new(module.span(), "a module name has no NUL character"))?;
    let name = LitCStr::new(&name, module.span());
    let tasks = tasks.iter().map(|task| {
        let mut path = task.clone();
        let Some(last) = path.segments.last_mut() else { return quote!() };
        let exported = last.ident.to_string();
        last.ident = type_name(&last.ident);
        quote!((#exported, ::std::boxed::Box::new(#path::new()) as ::std::boxed::Box<dyn ::cloacina::Task>))
    });
    Ok(quote! {
        /// Called by Python when it imports this module: the module, holding the exported tasks.
        ///
        /// # Safety
        /// Called by the Python interpreter only.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn #init() -> *mut ::cloacina::abi::export::ffi::PyObject {
            // SAFETY: Python calls this while importing the module, holding the GIL.
            unsafe { ::cloacina::abi::export::module(#name, ::std::vec![#(#tasks),*]) }
        }
    })
}
