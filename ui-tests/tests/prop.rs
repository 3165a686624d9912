//! Property tests of the ErrorGroup split algebra (SPEC §3, PEP 654's rules) and of the
//! `except*` clause accumulator: random trees of random depth and width, leaves of three error
//! types with random messages, random predicates and random clause sequences.
//!
//! Every leaf carries a unique id (`#<id>`, assigned depth-first, so the original order is the
//! order of the ids) and every group a unique id (`[g<id>]`), so that identity, order and
//! nesting can be read back from any result. Each property is checked against the tree the
//! generator made, and the exact result against a small reference model of PEP 654's `split`.
//! 256 cases per property (proptest's default; set `PROPTEST_CASES` for more).

mod common;

use std::error::Error as StdError;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use common::{KeyError, RuntimeError, TypeError, ValueError};
use proptest::prelude::*;
use proptest::sample::select;
use taskgroup::{ErrorGroup, ExceptStar, Handler, Leaf, Member, Outcome, except_star};

// ---------------------------------------------------------------------------------------------
// The generated trees.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Value,
    Type,
    Key,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Value, Kind::Type, Kind::Key];

    fn bit(self) -> u8 {
        match self {
            Kind::Value => 1,
            Kind::Type => 2,
            Kind::Key => 4,
        }
    }

    fn of_name(name: &str) -> Kind {
        match name {
            "ValueError" => Kind::Value,
            "TypeError" => Kind::Type,
            "KeyError" => Kind::Key,
            other => panic!("a leaf of an unexpected type: {other}"),
        }
    }

    fn of_leaf(leaf: &Leaf) -> Kind {
        if leaf.is::<ValueError>() {
            Kind::Value
        } else if leaf.is::<TypeError>() {
            Kind::Type
        } else if leaf.is::<KeyError>() {
            Kind::Key
        } else {
            panic!("a leaf of an unexpected type: {leaf:?}")
        }
    }
}

/// Random message text: empty, plain, unicode, several lines, characters `Debug` escapes.
const WORDS: [&str; 7] = [
    "",
    "boom",
    "disk full",
    "ünïcödé ✓",
    "two\nlines",
    "quote \" and \\ slash",
    "#fake #ids [g9]",
];

#[derive(Clone, Debug)]
enum Node {
    Leaf(Kind, &'static str),
    Group(&'static str, Vec<Node>),
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![Just(Kind::Value), Just(Kind::Type), Just(Kind::Key)]
}

fn word() -> impl Strategy<Value = &'static str> {
    select(&WORDS[..])
}

/// A group: up to 6 levels of nesting, up to 7 members per group, about 64 leaves at most.
fn tree() -> impl Strategy<Value = Node> {
    let leaf = (kind(), word()).prop_map(|(k, w)| Node::Leaf(k, w));
    let node = leaf.prop_recursive(6, 64, 7, |inner| {
        (word(), prop::collection::vec(inner, 1..7)).prop_map(|(w, m)| Node::Group(w, m))
    });
    (word(), prop::collection::vec(node, 1..7)).prop_map(|(w, m)| Node::Group(w, m))
}

/// One leaf of the generated tree: its id (= depth-first position), type, and the ids of the
/// groups above it, outermost first.
#[derive(Clone, Debug)]
struct LeafInfo {
    kind: Kind,
    path: Vec<usize>,
}

/// Makes the generated tree a real `ErrorGroup`; the same tree always gives the same ids.
fn build(root: &Node) -> (ErrorGroup, Vec<LeafInfo>) {
    struct Ids {
        groups: usize,
        leaves: Vec<LeafInfo>,
    }
    fn group(ids: &mut Ids, word: &str, members: &[Node], path: &mut Vec<usize>) -> ErrorGroup {
        let gid = ids.groups;
        ids.groups += 1;
        path.push(gid);
        let members = members.iter().map(|m| member(ids, m, path)).collect();
        path.pop();
        ErrorGroup::new(format!("{word} [g{gid}]"), members)
            .expect("generated groups are non-empty")
    }
    fn member(ids: &mut Ids, node: &Node, path: &mut Vec<usize>) -> Member {
        match node {
            Node::Leaf(kind, word) => {
                let id = ids.leaves.len();
                ids.leaves.push(LeafInfo {
                    kind: *kind,
                    path: path.clone(),
                });
                let text = format!("{word} #{id}");
                match kind {
                    Kind::Value => ValueError(text).into(),
                    Kind::Type => TypeError(text).into(),
                    Kind::Key => KeyError(text).into(),
                }
            }
            Node::Group(word, members) => group(ids, word, members, path).into(),
        }
    }
    let mut ids = Ids {
        groups: 0,
        leaves: Vec::new(),
    };
    let Node::Group(word, members) = root else {
        unreachable!("the root strategy makes a group")
    };
    let eg = group(&mut ids, word, members, &mut Vec::new());
    (eg, ids.leaves)
}

/// The id in a leaf's text (`KeyError` prints its text quoted, with escapes).
fn id_of_text(text: &str) -> usize {
    text.rsplit('#')
        .next()
        .and_then(|tail| tail.trim_end_matches('"').parse().ok())
        .unwrap_or_else(|| panic!("no leaf id in {text:?}"))
}

fn id_of(leaf: &Leaf) -> usize {
    id_of_text(&leaf.to_string())
}

fn gid_of(message: &str) -> usize {
    message
        .rsplit("[g")
        .next()
        .and_then(|tail| tail.trim_end_matches(']').parse().ok())
        .unwrap_or_else(|| panic!("no group id in {message:?}"))
}

// ---------------------------------------------------------------------------------------------
// A structural copy of a group, and PEP 654's split on it as the reference.

#[derive(Clone, Debug, PartialEq, Eq)]
enum Shape {
    Leaf {
        ty: &'static str,
        text: String,
    },
    Group {
        message: String,
        members: Vec<Shape>,
    },
}

fn shape<E: ?Sized>(eg: &ErrorGroup<E>) -> Shape {
    Shape::Group {
        message: eg.message().to_owned(),
        members: eg.members().iter().map(member_shape).collect(),
    }
}

fn member_shape(member: &Member) -> Shape {
    match member {
        Member::Leaf(leaf) => Shape::Leaf {
            ty: leaf.type_name(),
            text: leaf.to_string(),
        },
        Member::Group(group) => shape(group),
    }
}

/// PEP 654's split, on the copy: keep the matching leaves, drop groups left empty.
fn reference(shape: &Shape, keep: &dyn Fn(Kind, usize) -> bool) -> Option<Shape> {
    match shape {
        Shape::Leaf { ty, text } => {
            keep(Kind::of_name(ty), id_of_text(text)).then(|| shape.clone())
        }
        Shape::Group { message, members } => {
            let members: Vec<Shape> = members.iter().filter_map(|m| reference(m, keep)).collect();
            (!members.is_empty()).then(|| Shape::Group {
                message: message.clone(),
                members,
            })
        }
    }
}

/// Every leaf's id and the ids of the groups above it, depth-first.
fn paths<E: ?Sized>(eg: &ErrorGroup<E>) -> Vec<(usize, Vec<usize>)> {
    fn walk(members: &[Member], path: &mut Vec<usize>, out: &mut Vec<(usize, Vec<usize>)>) {
        for member in members {
            match member {
                Member::Leaf(leaf) => out.push((id_of(leaf), path.clone())),
                Member::Group(group) => {
                    path.push(gid_of(group.message()));
                    walk(group.members(), path, out);
                    path.pop();
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(eg.members(), &mut vec![gid_of(eg.message())], &mut out);
    out
}

/// Whether any group in the tree has no member.
fn has_empty_group<E: ?Sized>(eg: &ErrorGroup<E>) -> bool {
    eg.members().is_empty()
        || eg.members().is_empty()
        || eg
            .members()
            .iter()
            .any(|m| m.as_group().is_some_and(has_empty_group))
}

// ---------------------------------------------------------------------------------------------
// Predicates.

#[derive(Clone, Debug)]
enum Pred {
    /// Leaves whose type is in the set (bits of `Kind::bit`).
    Types(u8),
    /// A pseudo-random subset of leaves, by id.
    Ids(u64),
    Always,
    Never,
}

impl Pred {
    fn test(&self, kind: Kind, id: usize) -> bool {
        match *self {
            Pred::Types(mask) => mask & kind.bit() != 0,
            Pred::Ids(seed) => (seed ^ id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 63 == 1,
            Pred::Always => true,
            Pred::Never => false,
        }
    }

    fn on_leaf(&self, leaf: &Leaf) -> bool {
        self.test(Kind::of_leaf(leaf), id_of(leaf))
    }
}

fn pred() -> impl Strategy<Value = Pred> {
    prop_oneof![
        3 => (0u8..8).prop_map(Pred::Types),
        3 => any::<u64>().prop_map(Pred::Ids),
        1 => Just(Pred::Always),
        1 => Just(Pred::Never),
    ]
}

// ---------------------------------------------------------------------------------------------
// split_by: partition, order, nesting, messages, pruning, the exact PEP 654 result.

proptest! {
    #[test]
    fn prop_split_partitions_every_leaf_exactly_once(root in tree(), p in pred()) {
        let (eg, leaves) = build(&root);
        let (matched, rest) = eg.split_by(|l| p.on_leaf(l));
        let ids = |side: &Option<ErrorGroup>| -> Vec<usize> {
            side.as_ref().map_or_else(Vec::new, |g| g.leaves().map(id_of).collect())
        };
        let (m, r) = (ids(&matched), ids(&rest));
        // Exactly the leaves the predicate accepts on one side, all the others on the other.
        let want_m: Vec<usize> = (0..leaves.len()).filter(|&i| p.test(leaves[i].kind, i)).collect();
        let want_r: Vec<usize> = (0..leaves.len()).filter(|&i| !p.test(leaves[i].kind, i)).collect();
        prop_assert_eq!(&m, &want_m);
        prop_assert_eq!(&r, &want_r);
        // As a multiset: together they are the original leaves, none lost, none duplicated.
        let mut all: Vec<usize> = m.iter().chain(&r).copied().collect();
        all.sort_unstable();
        prop_assert_eq!(all, (0..leaves.len()).collect::<Vec<_>>());
        // A side with no leaf is None, never an empty group.
        prop_assert_eq!(matched.is_some(), !want_m.is_empty());
        prop_assert_eq!(rest.is_some(), !want_r.is_empty());
    }

    #[test]
    fn prop_split_keeps_depth_first_order(root in tree(), p in pred()) {
        let (eg, _) = build(&root);
        let (matched, rest) = eg.split_by(|l| p.on_leaf(l));
        for side in [&matched, &rest].into_iter().flatten() {
            // Ids were given depth-first, so a subsequence of the original order is increasing.
            let ids: Vec<usize> = side.leaves().map(id_of).collect();
            prop_assert!(ids.windows(2).all(|w| w[0] < w[1]), "out of order: {:?}", ids);
        }
    }

    #[test]
    fn prop_split_keeps_nesting_and_messages(root in tree(), p in pred()) {
        let (eg, leaves) = build(&root);
        let root_message = eg.message().to_owned();
        let (matched, rest) = eg.split_by(|l| p.on_leaf(l));
        for side in [&matched, &rest].into_iter().flatten() {
            prop_assert_eq!(side.message(), root_message.as_str());
            // Each leaf sits under exactly the groups (same ids, same messages) it sat under.
            for (id, path) in paths(side) {
                prop_assert_eq!(&path, &leaves[id].path, "leaf #{} moved", id);
            }
        }
    }

    #[test]
    fn prop_split_prunes_empty_groups(root in tree(), p in pred()) {
        let (eg, _) = build(&root);
        let (matched, rest) = eg.split_by(|l| p.on_leaf(l));
        for side in [&matched, &rest].into_iter().flatten() {
            prop_assert!(!has_empty_group(side));
        }
    }

    #[test]
    fn prop_split_is_pep654s_split(root in tree(), p in pred()) {
        let (eg, _) = build(&root);
        let original = shape(&eg);
        let (matched, rest) = eg.split_by(|l| p.on_leaf(l));
        prop_assert_eq!(matched.as_ref().map(shape), reference(&original, &|k, i| p.test(k, i)));
        prop_assert_eq!(rest.as_ref().map(shape), reference(&original, &|k, i| !p.test(k, i)));
    }

    #[test]
    fn prop_full_match_gives_back_an_identical_shape(root in tree(), p in pred()) {
        let (eg, leaves) = build(&root);
        let original = shape(&eg);
        let (all, none) = eg.split_by(|_| true);
        prop_assert!(none.is_none());
        prop_assert_eq!(shape(&all.unwrap()), original.clone());
        let (none, all) = build(&root).0.split_by(|_| false);
        prop_assert!(none.is_none());
        prop_assert_eq!(shape(&all.unwrap()), original.clone());
        // A predicate that happens to accept every leaf is a full match too.
        let every = leaves.iter().enumerate().all(|(i, l)| p.test(l.kind, i));
        let (matched, rest) = build(&root).0.split_by(|l| p.on_leaf(l));
        if every {
            prop_assert!(rest.is_none());
            prop_assert_eq!(shape(&matched.unwrap()), original);
        }
    }

    #[test]
    fn prop_subgroup_is_the_matched_side(root in tree(), p in pred()) {
        let (matched, _) = build(&root).0.split_by(|l| p.on_leaf(l));
        let sub = build(&root).0.subgroup_by(|l| p.on_leaf(l));
        prop_assert_eq!(sub.as_ref().map(shape), matched.as_ref().map(shape));

        let (typed, _) = build(&root).0.split::<TypeError>();
        let sub = build(&root).0.subgroup::<TypeError>();
        prop_assert_eq!(sub.as_ref().map(shape), typed.as_ref().map(shape));
    }

    #[test]
    fn prop_typed_split_is_the_type_predicate(root in tree()) {
        let (eg, leaves) = build(&root);
        let by_type = build(&root).0.split_by(|l| l.is::<ValueError>());
        prop_assert_eq!(eg.contains::<ValueError>(), by_type.0.is_some());
        let (values, rest) = eg.split::<ValueError>();
        prop_assert_eq!(values.as_ref().map(shape), by_type.0.as_ref().map(shape));
        prop_assert_eq!(rest.as_ref().map(shape), by_type.1.as_ref().map(shape));
        // The typed view yields every matched leaf as `&ValueError`, depth-first.
        let typed: Vec<usize> = values
            .iter()
            .flat_map(|g| g.errors().map(|e| id_of_text(&e.0)))
            .collect();
        let want: Vec<usize> = (0..leaves.len()).filter(|&i| leaves[i].kind == Kind::Value).collect();
        prop_assert_eq!(typed, want);
    }

    #[test]
    fn prop_split_any_is_split_by_the_disjunction(root in tree()) {
        let (pair, pair_rest) = build(&root).0.split_any::<(ValueError, TypeError)>();
        let (or, or_rest) = build(&root)
            .0
            .split_by(|l| l.is::<ValueError>() || l.is::<TypeError>());
        prop_assert_eq!(pair.as_ref().map(shape), or.as_ref().map(shape));
        prop_assert_eq!(pair_rest.as_ref().map(shape), or_rest.as_ref().map(shape));

        let (one, one_rest) = build(&root).0.split_any::<(KeyError,)>();
        let (key, key_rest) = build(&root).0.split::<KeyError>();
        prop_assert_eq!(one.as_ref().map(shape), key.as_ref().map(shape));
        prop_assert_eq!(one_rest.as_ref().map(shape), key_rest.as_ref().map(shape));

        let (eg, _) = build(&root);
        let original = shape(&eg);
        let (all, none) = eg.split_any::<(KeyError, TypeError, ValueError)>();
        prop_assert!(none.is_none());
        prop_assert_eq!(shape(&all.unwrap()), original);
    }

    #[test]
    fn prop_split_halves_split_again_like_the_whole(root in tree(), p in pred(), q in pred()) {
        // Splitting by p then each side by q gives the four parts of p∧q, p∧¬q, ¬p∧q, ¬p∧¬q.
        let (eg, _) = build(&root);
        let original = shape(&eg);
        let (matched, rest) = eg.split_by(|l| p.on_leaf(l));
        for (side, p_side) in [(matched, true), (rest, false)] {
            let (mq, rq) = match side {
                Some(g) => g.split_by(|l| q.on_leaf(l)),
                None => (None, None),
            };
            let want = |q_side: bool| {
                reference(&original, &|k, i| p.test(k, i) == p_side && q.test(k, i) == q_side)
            };
            prop_assert_eq!(mq.as_ref().map(shape), want(true));
            prop_assert_eq!(rq.as_ref().map(shape), want(false));
        }
    }

    #[test]
    fn prop_display_and_leaves_count_every_member(root in tree()) {
        let (eg, leaves) = build(&root);
        prop_assert_eq!(eg.leaves().count(), leaves.len());
        let n = eg.len();
        let line = eg.to_string();
        let plural = if n == 1 { "" } else { "s" };
        let want = format!("({n} sub-exception{plural})");
        prop_assert!(line.ends_with(&want), "{} does not end with {}", line, want);
        let tree = format!("{eg:#}");
        prop_assert!(tree.starts_with("  | ErrorGroup: ") || tree.starts_with("ErrorGroup: "));
        let debug = format!("{eg:?}");
        prop_assert!(debug.starts_with("ErrorGroup"));
    }
}

// ---------------------------------------------------------------------------------------------
// except*: a random sequence of clauses distributes every leaf to exactly one clause or to the
// remainder, with PEP 654's first-match rule, and what propagates has CPython's shape.

thread_local! {
    /// Ids that the handler clauses received, in order.
    static HANDLED: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A handler as `#[except_star(E)]` makes one: records what it was given and handles it.
struct On<E>(PhantomData<E>);

impl<E: StdError + Send + Sync + 'static> Handler for On<E> {
    fn matches(leaf: &Leaf) -> bool {
        leaf.is::<E>()
    }

    fn handle(group: ErrorGroup) -> impl Future<Output = Result<(), Member>> {
        assert!(
            group.leaves().all(Self::matches),
            "given a leaf it does not match"
        );
        HANDLED.with(|h| h.borrow_mut().extend(group.leaves().map(id_of)));
        std::future::ready(Ok(()))
    }
}

/// Polls a future that never waits (the handlers above) to its end.
fn now<F: Future>(fut: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(fut).poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the handler future waited"),
    }
}

#[derive(Clone, Copy, Debug)]
enum Style {
    /// `take::<E>()` for a single type, `take_by` for several.
    Take,
    /// `take_by` with a predicate over the types.
    TakeBy,
    /// `handle::<On<E>>()` for the lowest type of the set.
    Handler,
    /// `take_by`, then the clause raises a new error.
    Raise,
}

#[derive(Clone, Debug)]
struct Clause {
    types: u8,
    style: Style,
}

impl Clause {
    /// The types the clause really matches (a handler clause matches one type).
    fn mask(&self) -> u8 {
        match self.style {
            Style::Handler => self.types & self.types.wrapping_neg(),
            _ => self.types,
        }
    }
}

fn clauses() -> impl Strategy<Value = Vec<Clause>> {
    let style = prop_oneof![
        Just(Style::Take),
        Just(Style::TakeBy),
        Just(Style::Handler),
        Just(Style::Raise)
    ];
    prop::collection::vec(
        (1u8..8, style).prop_map(|(types, style)| Clause { types, style }),
        0..6,
    )
}

/// Where each clause put the leaves: per clause, the ids it received (None if it did not run),
/// and the errors raised, in order.
struct Applied {
    taken: Vec<Option<Vec<usize>>>,
    taken_shapes: Vec<Option<Shape>>,
    raised: Vec<String>,
    state: ExceptStar,
}

/// Ids of raised errors start here, above any leaf id.
const RAISED_BASE: usize = 1_000_000;

fn apply(eg: ErrorGroup, clauses: &[Clause]) -> Applied {
    let mut state = ExceptStar::new(eg);
    let mut taken = Vec::new();
    let mut taken_shapes = Vec::new();
    let mut raised = Vec::new();
    for clause in clauses {
        let mask = clause.mask();
        let by_types = move |l: &Leaf| mask & Kind::of_leaf(l).bit() != 0;
        let group: Option<ErrorGroup> = match clause.style {
            Style::Take => match mask {
                1 => state.take::<ValueError>().map(ErrorGroup::into_untyped),
                2 => state.take::<TypeError>().map(ErrorGroup::into_untyped),
                4 => state.take::<KeyError>().map(ErrorGroup::into_untyped),
                _ => state.take_by(by_types),
            },
            Style::TakeBy | Style::Raise => state.take_by(by_types),
            Style::Handler => {
                HANDLED.with(|h| h.borrow_mut().clear());
                match mask {
                    1 => now(state.handle::<On<ValueError>>()),
                    2 => now(state.handle::<On<TypeError>>()),
                    _ => now(state.handle::<On<KeyError>>()),
                }
                let ids = HANDLED.with(|h| std::mem::take(&mut *h.borrow_mut()));
                taken.push((!ids.is_empty()).then_some(ids));
                taken_shapes.push(None);
                continue;
            }
        };
        taken.push(group.as_ref().map(|g| g.leaves().map(id_of).collect()));
        taken_shapes.push(group.as_ref().map(shape));
        if let (Style::Raise, Some(_)) = (clause.style, &group) {
            let text = format!("raised #{}", RAISED_BASE + raised.len());
            state.raise(RuntimeError(text.clone()));
            raised.push(text);
        }
    }
    Applied {
        taken,
        taken_shapes,
        raised,
        state,
    }
}

proptest! {
    #[test]
    fn prop_except_star_gives_each_leaf_to_exactly_one_clause_or_the_rest(
        root in tree(),
        clauses in clauses(),
    ) {
        let (eg, leaves) = build(&root);
        let original = shape(&eg);
        let applied = apply(eg, &clauses);

        // The model: a leaf goes to the first clause whose types include its type.
        let owner = |i: usize| clauses.iter().position(|c| c.mask() & leaves[i].kind.bit() != 0);
        for (c, clause) in clauses.iter().enumerate() {
            let want: Vec<usize> = (0..leaves.len()).filter(|&i| owner(i) == Some(c)).collect();
            let got = applied.taken[c].clone();
            // A clause with nothing to match does not run at all.
            prop_assert_eq!(got.is_some(), !want.is_empty(), "clause {} ran: {:?}", c, clause);
            prop_assert_eq!(got.unwrap_or_default(), want);
            // What it got keeps the original message and nesting (PEP 654's split).
            if let Some(got) = &applied.taken_shapes[c] {
                let want = reference(&original, &|_, i| owner(i) == Some(c)).unwrap();
                prop_assert_eq!(got, &want);
            }
        }
        let rest_want = reference(&original, &|_, i| owner(i).is_none());
        prop_assert_eq!(applied.state.rest().map(shape), rest_want.clone());

        // Conservation: every leaf exactly once across the clauses and what propagates.
        let propagated = applied.state.finish();
        let mut seen: Vec<usize> = applied.taken.iter().flatten().flatten().copied().collect();
        if let Some(left) = &propagated {
            seen.extend(left.leaves().map(id_of).filter(|&id| id < RAISED_BASE));
        }
        seen.sort_unstable();
        prop_assert_eq!(seen, (0..leaves.len()).collect::<Vec<_>>());

        // What propagates: the rest unchanged if nothing was raised, otherwise
        // ErrorGroup("", [raised..., rest]) as CPython builds it.
        if applied.raised.is_empty() {
            prop_assert_eq!(propagated.as_ref().map(shape), rest_want);
        } else {
            let left = propagated.expect("a clause raised, so something propagates");
            let mut members: Vec<Shape> = applied
                .raised
                .iter()
                .map(|text| Shape::Leaf { ty: "RuntimeError", text: text.clone() })
                .collect();
            members.extend(rest_want);
            prop_assert_eq!(shape(&left), Shape::Group { message: String::new(), members });
        }
    }

    #[test]
    fn prop_except_star_outcome_is_handled_exactly_when_nothing_is_left(
        root in tree(),
        clauses in clauses(),
    ) {
        let (eg, _) = build(&root);
        let applied = apply(eg, &clauses);
        let nothing_left = applied.state.rest().is_none() && applied.raised.is_empty();
        let outcome: Outcome<()> = applied.state.into_outcome();
        prop_assert_eq!(outcome.is_handled(), nothing_left);
        prop_assert_eq!(outcome.is_unhandled(), !nothing_left);
        prop_assert!(!outcome.is_ok());
    }

    #[test]
    fn prop_except_star_single_handler_matches_split(root in tree()) {
        let (eg, leaves) = build(&root);
        let (_, rest) = build(&root).0.split::<TypeError>();
        HANDLED.with(|h| h.borrow_mut().clear());
        let outcome = now(except_star::<On<TypeError>, ()>(Err(eg)));
        let handled = HANDLED.with(|h| std::mem::take(&mut *h.borrow_mut()));
        let want: Vec<usize> = (0..leaves.len()).filter(|&i| leaves[i].kind == Kind::Type).collect();
        prop_assert_eq!(handled, want);
        prop_assert_eq!(outcome.unhandled().as_ref().map(shape), rest.as_ref().map(shape));
        prop_assert!(now(except_star::<On<TypeError>, u8>(Ok(3))).is_ok());
    }
}

#[test]
fn prop_fixtures_read_ids_back_from_every_leaf_type() {
    // The property tests above depend on reading ids back; check that on the awkward texts.
    for (i, word) in WORDS.iter().enumerate() {
        let text = format!("{word} #{i}");
        for member in [
            Member::from(ValueError(text.clone())),
            Member::from(TypeError(text.clone())),
            Member::from(KeyError(text.clone())),
        ] {
            assert_eq!(id_of(member.as_leaf().unwrap()), i);
        }
        assert_eq!(gid_of(&format!("{word} [g{i}]")), i);
    }
    assert_eq!(Kind::ALL.iter().map(|k| k.bit()).sum::<u8>(), 7);
}
