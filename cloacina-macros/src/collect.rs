//! Gathering the tasks of a `workflow!`, one macro call per task.
//!
//! A proc macro cannot read other items, so each `#[task]` leaves a `macro_rules!` that hands
//! its id, dependencies and type to a callback. `workflow!` calls the first task's; this step
//! adds the description it got and calls the next one's, until none is left; then it checks the
//! graph and builds the workflow. The dependency literals keep their spans from the `#[task]`
//! attributes, so errors point there.
//!
//! The state passed from step to step is
//! `{ header {..} remaining [a [b [c []]]] collected [{a => {..}} ..] current a }`. A step looks
//! only at the head of `remaining` and appends to `collected` without reading it, so each step
//! costs the same however many tasks the workflow lists; `collected` is parsed once, at the end.

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Ident, LitStr, Path, Token, braced, bracketed};

use crate::graph::{Node, check};
use crate::task::description_macro;

/// A task gathered so far.
struct Gathered {
    /// The path as listed in `tasks: [...]` (its span locates the task in the list).
    listed: Path,
    id: LitStr,
    dependencies: Vec<LitStr>,
    type_name: Ident,
}

/// The header of the state: what `workflow!` was given besides the Rust tasks.
struct Header {
    name: LitStr,
    description: Option<LitStr>,
    /// The Python tasks, by `package.module:function`.
    python: Vec<LitStr>,
}

/// A task's description, as its macro hands it over.
struct Described {
    id: LitStr,
    dependencies: Vec<LitStr>,
    type_name: Ident,
}

/// One step's input, split without reading the gathered tasks.
struct Step {
    /// The header group, passed on untouched.
    header: Group,
    /// The tasks still to gather, nested: `a [b [c []]]`.
    remaining: TokenStream,
    /// The gathered tasks, passed on unread.
    collected: TokenStream,
    /// The task whose description this step receives, with the description.
    received: Option<(TokenStream, Group)>,
}

fn keyword(input: ParseStream<'_>, expected: &str) -> syn::Result<()> {
    let word: Ident = input.parse()?;
    if word == expected {
        Ok(())
    } else {
        Err(syn::Error::new(word.span(), format!("internal: expected `{expected}` in workflow! state")))
    }
}

fn literals(input: ParseStream<'_>) -> syn::Result<Vec<LitStr>> {
    let content;
    bracketed!(content in input);
    Ok(content.parse_terminated(<LitStr as Parse>::parse, Token![,])?.into_iter().collect())
}

impl Parse for Header {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        keyword(input, "name")?;
        input.parse::<Token![:]>()?;
        let name = input.parse()?;
        input.parse::<Token![,]>()?;
        keyword(input, "description")?;
        input.parse::<Token![:]>()?;
        let description = if input.peek(LitStr) {
            Some(input.parse()?)
        } else {
            keyword(input, "none")?;
            None
        };
        input.parse::<Token![,]>()?;
        keyword(input, "python")?;
        input.parse::<Token![:]>()?;
        let python = literals(input)?;
        Ok(Self { name, description, python })
    }
}

impl Parse for Described {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let content;
        braced!(content in input);
        keyword(&content, "id")?;
        content.parse::<Token![:]>()?;
        let id = content.parse()?;
        content.parse::<Token![,]>()?;
        keyword(&content, "dependencies")?;
        content.parse::<Token![:]>()?;
        let dependencies = literals(&content)?;
        content.parse::<Token![,]>()?;
        content.parse::<Token![type]>()?;
        content.parse::<Token![:]>()?;
        let type_name = content.parse()?;
        Ok(Self { id, dependencies, type_name })
    }
}

fn internal(span: Span, expected: &str) -> syn::Error {
    syn::Error::new(span, format!("internal: expected {expected} in workflow! state"))
}

/// The next token, which must be the word `expected`.
fn expect_word(tokens: &mut impl Iterator<Item = TokenTree>, expected: &str) -> syn::Result<()> {
    match tokens.next() {
        Some(TokenTree::Ident(word)) if word == expected => Ok(()),
        other => Err(internal(other.map_or_else(Span::call_site, |token| token.span()), &format!("`{expected}`"))),
    }
}

/// The next token, which must be a group with the given delimiter.
fn expect_group(tokens: &mut impl Iterator<Item = TokenTree>, delimiter: Delimiter) -> syn::Result<Group> {
    match tokens.next() {
        Some(TokenTree::Group(group)) if group.delimiter() == delimiter => Ok(group),
        other => Err(internal(other.map_or_else(Span::call_site, |token| token.span()), "a group")),
    }
}

impl Step {
    /// Splits the input by walking only its top level, never into `collected`.
    fn split(input: TokenStream) -> syn::Result<Self> {
        let mut outer = input.into_iter();
        let state = expect_group(&mut outer, Delimiter::Brace)?;
        let described = match outer.next() {
            None => None,
            Some(TokenTree::Ident(word)) if word == "described" => Some(expect_group(&mut outer, Delimiter::Brace)?),
            Some(other) => return Err(internal(other.span(), "`described`")),
        };
        let mut tokens = state.stream().into_iter();
        expect_word(&mut tokens, "header")?;
        let header = expect_group(&mut tokens, Delimiter::Brace)?;
        expect_word(&mut tokens, "remaining")?;
        let remaining = expect_group(&mut tokens, Delimiter::Bracket)?.stream();
        expect_word(&mut tokens, "collected")?;
        let collected = expect_group(&mut tokens, Delimiter::Bracket)?.stream();
        let current = match tokens.next() {
            None => None,
            Some(TokenTree::Ident(word)) if word == "current" => Some(tokens.collect::<TokenStream>()),
            Some(other) => return Err(internal(other.span(), "`current`")),
        };
        let received = match (current, described) {
            (Some(current), Some(described)) => Some((current, described)),
            (None, None) => None,
            _ => return Err(internal(Span::call_site(), "a task with its description")),
        };
        Ok(Self { header, remaining, collected, received })
    }
}

/// Splits `a [b [c []]]` into the path `a` and the rest, `b [c []]`; `None` when empty.
fn next_remaining(remaining: TokenStream) -> syn::Result<Option<(Path, TokenStream)>> {
    let mut head = TokenStream::new();
    for token in remaining {
        match token {
            TokenTree::Group(rest) if rest.delimiter() == Delimiter::Bracket => {
                let path = syn::parse2::<Path>(head)?;
                return Ok(Some((path, rest.stream())));
            }
            other => head.extend([other]),
        }
    }
    if head.is_empty() { Ok(None) } else { Err(internal(head.span(), "the rest of the task list")) }
}

/// `[a, b, c]` nested for the state: `a [b [c []]]`.
pub fn nest_remaining(tasks: &[Path]) -> TokenStream {
    tasks.iter().rev().fold(TokenStream::new(), |rest, task| quote!(#task [#rest]))
}

/// The gathered tasks, parsed once the gathering is done.
fn parse_collected(input: ParseStream<'_>) -> syn::Result<Vec<Gathered>> {
    let mut gathered = Vec::new();
    while !input.is_empty() {
        let entry;
        braced!(entry in input);
        let listed = entry.parse()?;
        entry.parse::<Token![=>]>()?;
        let described: Described = entry.parse()?;
        gathered.push(Gathered {
            listed,
            id: described.id,
            dependencies: described.dependencies,
            type_name: described.type_name,
        });
    }
    Ok(gathered)
}

/// `path::to::task` becomes `path::to::__cloacina_task_task`, spanned at the listed path.
fn with_last_segment(path: &Path, last: Ident) -> Path {
    let mut path = path.clone();
    if let Some(segment) = path.segments.last_mut() {
        segment.ident = last;
    }
    path
}

/// One gathering step (see the module documentation).
pub fn expand(input: TokenStream) -> syn::Result<TokenStream> {
    let Step { header, remaining, mut collected, received } = Step::split(input)?;
    if let Some((current, described)) = received {
        collected.extend(quote!({ #current => #described }));
    }
    match next_remaining(remaining)? {
        Some((next, rest)) => {
            let Some(last) = next.segments.last() else {
                return Err(syn::Error::new(next.span(), "expected the name of a task made with #[task]"));
            };
            let describe = with_last_segment(&next, description_macro(&last.ident));
            let span = next.span();
            Ok(quote_spanned! {span=>
                #describe! { [::cloacina::__workflow_collect]
                    { header #header remaining [#rest] collected [#collected] current #next } }
            })
        }
        None => {
            let header: Header = syn::parse2(header.stream())?;
            let gathered = syn::parse::Parser::parse2(parse_collected, collected)?;
            build(&header, &gathered)
        }
    }
}

/// Checks the gathered graph and builds and registers the workflow.
fn build(header: &Header, gathered: &[Gathered]) -> syn::Result<TokenStream> {
    let nodes: Vec<Node> = gathered
        .iter()
        .map(|task| Node { id: task.id.clone(), dependencies: task.dependencies.clone(), listed: task.listed.span() })
        .collect();
    check(&header.name.value(), &nodes, !header.python.is_empty())?;
    let name = &header.name;
    let description = header.description.as_ref().map(|text| quote!(.description(#text)));
    let tasks = gathered.iter().map(|task| {
        let type_path = with_last_segment(&task.listed, task.type_name.clone());
        quote!(.task(#type_path::new()))
    });
    // Python tasks load when this runs (`?` on each), so the workflow is checked whole only then.
    let python = header.python.iter().map(|python| {
        quote!(.shared_task(::std::sync::Arc::new(::cloacina_python::embed::PythonTaskWrapper::load(#python)?)))
    });
    let builder = quote!(::cloacina::Workflow::builder(#name) #description #(#tasks)* #(#python)*);
    let workflow = format_ident!("workflow", span = Span::mixed_site());
    let register = quote!(::cloacina::WorkflowRegistry::global().register(::std::sync::Arc::clone(&#workflow)));
    if !header.python.is_empty() {
        return Ok(quote! {
            (|| -> ::std::result::Result<::std::sync::Arc<::cloacina::Workflow>, ::cloacina_python::embed::EmbedError> {
                let #workflow = ::std::sync::Arc::new(#builder.build()?);
                #register;
                ::std::result::Result::Ok(#workflow)
            })()
        });
    }
    let message = format!("workflow! checked workflow `{}` at compile time", header.name.value());
    Ok(quote! {
        {
            let #workflow = ::std::sync::Arc::new(#builder.build().expect(#message));
            #register;
            #workflow
        }
    })
}
