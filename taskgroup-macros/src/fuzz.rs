//! The macros never panic: arbitrary token streams, random or mutated from valid inputs,
//! give tokens (that parse back as Rust) or a `syn::Error`.

use std::panic::{AssertUnwindSafe, catch_unwind};

use proc_macro2::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};

/// xorshift64: a fixed seed makes every run see the same cases.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const IDENTS: &[&str] = &[
    "tg",
    "except",
    "except",
    "except",
    "as",
    "eg",
    "timeout",
    "deadline",
    "name",
    "policy",
    "limit",
    "grace",
    "stall",
    "fail_fast",
    "wait_all",
    "first_ok",
    "ValueError",
    "TypeError",
    "ErrorGroup",
    "AnyError",
    "async",
    "fn",
    "move",
    "self",
    "Self",
    "mut",
    "on_value",
    "Duration",
    "x",
    "_",
    "std",
    "io",
    "Error",
    "Result",
    "Ok",
    "Err",
    "await",
    "return",
    "if",
    "match",
    "let",
    "dyn",
    "impl",
    "where",
    "pub",
    "unsafe",
    "const",
    "crate",
    "super",
    "loop",
];

const PUNCTS: &[&str] = &[
    "|", "|", "*", "*", "=>", "=>", "=", ",", ",", ";", ";", ":", "::", "<", ">", "&", "-", "+",
    "!", ".", "?", "||", "#", "->", "..", "@", "$", "==", "<=", "%", "^", "/", "'",
];

fn ident(rng: &mut XorShift) -> TokenTree {
    let name = IDENTS[rng.below(IDENTS.len())];
    if rng.chance(3) {
        // Raw identifiers, except the few that cannot be raw.
        if !matches!(name, "_" | "self" | "Self" | "crate" | "super") {
            return Ident::new_raw(name, Span::call_site()).into();
        }
    }
    Ident::new(name, Span::call_site()).into()
}

fn punct(rng: &mut XorShift) -> Vec<TokenTree> {
    let op = PUNCTS[rng.below(PUNCTS.len())];
    let chars: Vec<char> = op.chars().collect();
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let spacing = if i + 1 < chars.len() || rng.chance(20) {
                Spacing::Joint
            } else {
                Spacing::Alone
            };
            Punct::new(*c, spacing).into()
        })
        .collect()
}

fn literal(rng: &mut XorShift) -> TokenTree {
    match rng.below(8) {
        0 => Literal::usize_unsuffixed(0),
        1 => Literal::u64_unsuffixed(rng.next() % 10),
        2 => Literal::u8_suffixed(2),
        3 => Literal::string("s"),
        4 => Literal::character('c'),
        5 => Literal::f64_unsuffixed(2.5),
        6 => Literal::byte_string(b"b"),
        _ => Literal::i32_unsuffixed(-1),
    }
    .into()
}

fn random_stream(rng: &mut XorShift, depth: usize) -> TokenStream {
    let len = rng.below(if depth == 0 { 14 } else { 6 });
    let mut tokens = Vec::new();
    for _ in 0..len {
        match rng.below(100) {
            0..=44 => tokens.push(ident(rng)),
            45..=74 => tokens.extend(punct(rng)),
            75..=84 => tokens.push(literal(rng)),
            _ if depth < 3 => {
                let inner = random_stream(rng, depth + 1);
                tokens.push(group(rng, inner));
            }
            _ => tokens.push(ident(rng)),
        }
    }
    tokens.into_iter().collect()
}

fn group(rng: &mut XorShift, inner: TokenStream) -> TokenTree {
    let delimiter = match rng.below(4) {
        0 => Delimiter::Parenthesis,
        1 => Delimiter::Brace,
        2 => Delimiter::Bracket,
        _ => Delimiter::None,
    };
    Group::new(delimiter, inner).into()
}

/// One random edit, at the top level or inside a group: delete, insert, replace or duplicate.
fn mutate(rng: &mut XorShift, stream: TokenStream) -> TokenStream {
    let mut tokens: Vec<TokenTree> = stream.into_iter().collect();
    if tokens.is_empty() {
        return random_stream(rng, 1);
    }
    let i = rng.below(tokens.len());
    match rng.below(5) {
        0 => {
            tokens.remove(i);
        }
        1 => {
            let new = random_stream(rng, 2);
            tokens.splice(i..i, new);
        }
        2 => {
            let new = random_stream(rng, 2);
            tokens.splice(i..=i, new);
        }
        3 => {
            let copy = tokens[i].clone();
            tokens.insert(i, copy);
        }
        _ => {
            if let TokenTree::Group(g) = &tokens[i] {
                let mut inner = Group::new(g.delimiter(), mutate(rng, g.stream()));
                inner.set_span(g.span());
                tokens[i] = inner.into();
            } else {
                tokens.remove(i);
            }
        }
    }
    tokens.into_iter().collect()
}

const TASK_GROUPS: &[&str] = &[
    "|tg| { tg.spawn(work()); 1 }",
    "timeout = Duration::from_secs(2), limit = 8; |tg| { tg.spawn(a()); }",
    "policy = wait_all, name = \"n\", grace = g; |_| { body()? }
     except* ValueError as eg => println!(\"{eg}\"),
     except* TypeError | KeyError as mut eg => { log(&mut eg); }
     except* on_runtime_error,",
    "deadline = at; |tg| tg.spawn(x) except* io::Error => Err(e)?, except* handlers::h",
    "|tg| {} except* A => {} except* B as b => if b.len() > 1 { Err(E)? }",
    "policy = wait_all; |tg| { tg.spawn(f()); }
     except* FetchError::Timeout { .. } | FetchError::Status(500..=599) as eg => retry(eg),
     except* FetchError::Status(404 | 410) => (),
     except* io::Error | FetchError::Io(_) as eg => log(eg),
     except* FetchError as eg => log(eg),",
];

const HANDLERS: &[(&str, &str)] = &[
    (
        "ValueError",
        "async fn on_value(eg: ErrorGroup<ValueError>) { }",
    ),
    (
        "A, B",
        "pub async fn on_ab(eg: ErrorGroup) -> Result<(), E> { Ok(()) }",
    ),
    (
        "FetchError::Timeout { .. }, FetchError::Status(500..=599)",
        "async fn on_retry(eg: ErrorGroup<FetchError>) { }",
    ),
    (
        "std::io::Error,",
        "async fn on_io(mut eg: taskgroup::ErrorGroup<std::io::Error>) {}",
    ),
];

fn check_task_group(input: TokenStream) -> bool {
    let shown = input.to_string();
    let result = catch_unwind(AssertUnwindSafe(|| crate::expand::task_group(input)));
    match result {
        Err(_) => panic!("task_group! panicked on `{shown}`"),
        Ok(Err(_)) => false,
        Ok(Ok(tokens)) => {
            if let Err(e) = syn::parse2::<syn::Expr>(tokens.clone()) {
                panic!(
                    "task_group! on `{shown}` gave tokens that are not an expression ({e}): {tokens}"
                );
            }
            true
        }
    }
}

fn check_except_star(args: TokenStream, item: TokenStream) -> bool {
    let shown = format!("#[except_star({args})] {item}");
    let item_is_fn = syn::parse2::<syn::ItemFn>(item.clone()).is_ok();
    let result = catch_unwind(AssertUnwindSafe(|| crate::expand::except_star(args, item)));
    match result {
        Err(_) => panic!("#[except_star] panicked on `{shown}`"),
        Ok(Err(_)) => false,
        Ok(Ok(tokens)) => {
            if item_is_fn {
                if let Err(e) = syn::parse2::<syn::File>(tokens.clone()) {
                    panic!(
                        "#[except_star] on `{shown}` gave tokens that are not items ({e}): {tokens}"
                    );
                }
            }
            item_is_fn
        }
    }
}

fn parse(source: &str) -> TokenStream {
    source.parse().expect("the templates are valid tokens")
}

#[test]
fn task_group_never_panics_on_random_tokens() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for _ in 0..10_000 {
        let mut input = random_stream(&mut rng, 0);
        if rng.chance(30) {
            // A plausible start, so that the parser gets past the first token more often.
            let mut start = parse("|tg| {}");
            start.extend(input);
            input = start;
        }
        check_task_group(input);
    }
}

#[test]
fn task_group_never_panics_on_mutated_inputs() {
    let mut rng = XorShift(0xD1B5_4A32_D192_ED03);
    let mut expanded = 0;
    for case in 0..10_000 {
        let mut input = parse(TASK_GROUPS[case % TASK_GROUPS.len()]);
        for _ in 0..=usize::from(rng.chance(25)) {
            input = mutate(&mut rng, input);
        }
        expanded += usize::from(check_task_group(input));
    }
    // The mutations must leave many inputs valid, or the expansion paths go untested.
    assert!(expanded > 500, "only {expanded} mutated inputs expanded");
}

#[test]
fn except_star_never_panics() {
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    let mut expanded = 0;
    for case in 0..10_000 {
        let (args, item) = HANDLERS[case % HANDLERS.len()];
        let (mut args, mut item) = (parse(args), parse(item));
        match rng.below(4) {
            0 => args = random_stream(&mut rng, 1),
            1 => args = mutate(&mut rng, args),
            2 => item = mutate(&mut rng, item),
            _ => {
                args = mutate(&mut rng, args);
                item = mutate(&mut rng, item);
            }
        }
        expanded += usize::from(check_except_star(args, item));
    }
    assert!(
        expanded > 1_000,
        "only {expanded} mutated handlers expanded"
    );
}

#[test]
fn the_templates_expand() {
    for source in TASK_GROUPS {
        let tokens = crate::expand::task_group(parse(source)).expect("a valid template");
        assert!(!tokens.to_string().contains("compile_error"), "{source}");
    }
    for (args, item) in HANDLERS {
        let tokens = crate::expand::except_star(parse(args), parse(item)).expect("valid");
        assert!(
            !tokens.to_string().contains("compile_error"),
            "{args} {item}"
        );
    }
}
