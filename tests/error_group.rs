//! ErrorGroup (SPEC §3): construction, CPython's display, PEP 654's split algebra, typed views,
//! leaf metadata, and very deep trees.

mod common;

use common::*;
use taskgroup::{EmptyGroup, ErrorGroup, Leaf, Member, TaskGroup};

fn leaf<E: std::error::Error + Send + Sync + 'static>(e: E) -> Member {
    Member::from(e)
}

fn group(message: &'static str, members: Vec<Member>) -> ErrorGroup {
    ErrorGroup::new(message, members).unwrap()
}

fn val(m: &str) -> Member {
    leaf(ValueError(m.into()))
}

fn typ(m: &str) -> Member {
    leaf(TypeError(m.into()))
}

/// The tree's shape as text: groups as `message[...]`, leaves as `Type:message`.
fn shape(eg: &ErrorGroup) -> String {
    fn member(m: &Member) -> String {
        match m {
            Member::Leaf(l) => format!("{}:{}", l.type_name(), l),
            Member::Group(g) => shape(g),
        }
    }
    let inner: Vec<String> = eg.iter().map(member).collect();
    format!("{}[{}]", eg.message(), inner.join(", "))
}

/// `eg("msg", [ValueError("a"), eg("inner", [TypeError("b"), ValueError("c")]), TypeError("d")])`
fn sample() -> ErrorGroup {
    group(
        "msg",
        vec![
            val("a"),
            group("inner", vec![typ("b"), val("c")]).into_member(),
            typ("d"),
        ],
    )
}

trait IntoMember {
    fn into_member(self) -> Member;
}

impl IntoMember for ErrorGroup {
    fn into_member(self) -> Member {
        Member::from(self)
    }
}

#[test]
fn eg_new_refuses_an_empty_list() {
    assert_eq!(ErrorGroup::new("x", vec![]).unwrap_err(), EmptyGroup);
    assert!(EmptyGroup.to_string().contains("at least one member"));
}

#[test]
fn eg_display_matches_cpython_singular_and_plural() {
    let one = group(taskgroup::TASK_GROUP_MESSAGE, vec![val("a")]);
    assert_eq!(
        one.to_string(),
        "unhandled errors in a TaskGroup (1 sub-exception)"
    );
    let three = group(
        taskgroup::TASK_GROUP_MESSAGE,
        vec![val("a"), val("b"), val("c")],
    );
    assert_eq!(
        three.to_string(),
        "unhandled errors in a TaskGroup (3 sub-exceptions)"
    );
    // CPython: str(ExceptionGroup("", [ValueError()])) == " (1 sub-exception)"
    assert_eq!(group("", vec![val("a")]).to_string(), " (1 sub-exception)");
}

#[tokio::test(start_paused = true)]
async fn eg_scope_group_has_cpythons_message() {
    let tg = TaskGroup::new();
    let eg = tg
        .run(async {
            tg.spawn(async { Res::<()>::Err(value_error("Something went wrong")) });
            Ok::<_, Member>(())
        })
        .await
        .unwrap_err();
    assert_eq!(
        eg.to_string(),
        "unhandled errors in a TaskGroup (1 sub-exception)"
    );
    // The seed's ` - {type(exc).__name__}: {exc}` lines.
    let lines: Vec<String> = eg
        .iter()
        .map(|e| format!(" - {}: {}", e.type_name(), e))
        .collect();
    assert_eq!(lines, [" - ValueError: Something went wrong"]);
}

#[test]
fn eg_alternate_display_is_cpythons_traceback_tree() {
    // Compared with CPython 3.11's traceback.print_exception of the same tree.
    let eg = group(
        "unhandled errors in a TaskGroup",
        vec![
            val("bad"),
            group("inner", vec![typ("t"), leaf(KeyError("k".into()))]).into_member(),
            leaf(RuntimeError(String::new())),
        ],
    );
    let expected = "  | ErrorGroup: unhandled errors in a TaskGroup (3 sub-exceptions)
  +-+---------------- 1 ----------------
    | ValueError: bad
    +---------------- 2 ----------------
    | ErrorGroup: inner (2 sub-exceptions)
    +-+---------------- 1 ----------------
      | TypeError: t
      +---------------- 2 ----------------
      | KeyError: \"k\"
      +------------------------------------
    +---------------- 3 ----------------
    | RuntimeError
    +------------------------------------
";
    assert_eq!(format!("{eg:#}"), expected);
}

#[test]
fn eg_alternate_display_caps_width_at_15() {
    let members = (0..17).map(|i| val(&i.to_string())).collect();
    let text = format!("{:#}", group("wide", members));
    assert!(text.contains("+---------------- 15 ----------------\n    | ValueError: 14\n"));
    assert!(text.ends_with(
        "    +---------------- ... ----------------\n    | and 2 more exceptions\n    +------------------------------------\n"
    ));
    assert!(!text.contains("ValueError: 15"));
}

#[test]
fn eg_alternate_display_caps_depth_at_10() {
    let mut eg = group("g0", vec![val("leaf")]);
    for i in 1..12 {
        eg = group(
            Box::leak(format!("g{i}").into_boxed_str()),
            vec![eg.into_member()],
        );
    }
    let text = format!("{eg:#}");
    assert!(text.starts_with("  | ErrorGroup: g11 (1 sub-exception)\n"));
    assert!(text.contains("| ErrorGroup: g2 (1 sub-exception)"));
    assert!(!text.contains("g1 ("));
    assert!(text.contains(
        "                      | ... (max_group_depth is 10)\n                      +------------------------------------\n"
    ));
}

#[test]
fn eg_debug_is_structural() {
    let text = format!("{:?}", sample());
    assert!(
        text.starts_with(
            "ErrorGroup { message: \"msg\", members: [Leaf { type_name: \"ValueError\""
        )
    );
    assert!(text.contains("ErrorGroup { message: \"inner\""));
}

#[test]
fn eg_len_iter_and_leaves() {
    let eg = sample();
    assert_eq!(eg.len(), 3);
    assert!(!eg.is_empty());
    let direct: Vec<&str> = eg.iter().map(Member::type_name).collect();
    assert_eq!(direct, ["ValueError", "ErrorGroup", "TypeError"]);
    let leaves: Vec<String> = eg.leaves().map(ToString::to_string).collect();
    assert_eq!(leaves, ["a", "b", "c", "d"]);
    let mut n = 0;
    for _member in &eg {
        n += 1;
    }
    assert_eq!(n, 3);
}

#[test]
fn eg_contains_looks_at_every_depth() {
    let eg = sample();
    assert!(eg.contains::<ValueError>());
    assert!(eg.contains::<TypeError>());
    assert!(!eg.contains::<KeyError>());
}

#[test]
fn eg_split_keeps_order_nesting_and_messages() {
    let (matched, rest) = sample().split::<ValueError>();
    let matched = matched.unwrap().into_untyped();
    let rest = rest.unwrap();
    assert_eq!(shape(&matched), "msg[ValueError:a, inner[ValueError:c]]");
    assert_eq!(shape(&rest), "msg[inner[TypeError:b], TypeError:d]");
}

#[test]
fn eg_split_prunes_empty_subgroups() {
    let eg = group(
        "top",
        vec![group("only_types", vec![typ("x")]).into_member(), val("v")],
    );
    let (matched, rest) = eg.split::<ValueError>();
    assert_eq!(shape(&matched.unwrap().into_untyped()), "top[ValueError:v]");
    assert_eq!(shape(&rest.unwrap()), "top[only_types[TypeError:x]]");
}

#[test]
fn eg_split_full_match_returns_the_group_unchanged() {
    let eg = group(
        "all",
        vec![val("a"), group("g", vec![val("b")]).into_member()],
    );
    let before = shape(&eg);
    let (matched, rest) = eg.split::<ValueError>();
    assert!(rest.is_none());
    assert_eq!(shape(&matched.unwrap().into_untyped()), before);
}

#[test]
fn eg_split_no_match_gives_none_and_the_whole_rest() {
    let before = shape(&sample());
    let (matched, rest) = sample().split::<KeyError>();
    assert!(matched.is_none());
    assert_eq!(shape(&rest.unwrap()), before);
}

#[test]
fn eg_split_singletons_stay_groups() {
    let eg = group("one", vec![group("two", vec![val("x")]).into_member()]);
    let (matched, _) = eg.split::<ValueError>();
    assert_eq!(
        shape(&matched.unwrap().into_untyped()),
        "one[two[ValueError:x]]"
    );
}

#[test]
fn eg_split_by_predicate_partitions_every_leaf_once() {
    let (short, long) = sample().split_by(|leaf| *leaf.to_string() < *"c");
    let short = short.unwrap();
    let long = long.unwrap();
    let mut all: Vec<String> = short
        .leaves()
        .chain(long.leaves())
        .map(ToString::to_string)
        .collect();
    all.sort();
    assert_eq!(all, ["a", "b", "c", "d"]);
    assert_eq!(shape(&short), "msg[ValueError:a, inner[TypeError:b]]");
}

#[test]
fn eg_split_any_takes_several_types_at_once() {
    let eg = group("m", vec![val("a"), typ("b"), leaf(KeyError("k".into()))]);
    let (matched, rest) = eg.split_any::<(ValueError, TypeError)>();
    assert_eq!(matched.unwrap().len(), 2);
    assert_eq!(shape(&rest.unwrap()), "m[KeyError:\"k\"]");
}

#[test]
fn eg_subgroup_equals_the_matched_side_of_split() {
    let sub = sample().subgroup::<TypeError>().unwrap().into_untyped();
    let (matched, _) = sample().split::<TypeError>();
    assert_eq!(shape(&sub), shape(&matched.unwrap().into_untyped()));
    assert!(sample().subgroup_by(|_| false).is_none());
}

#[test]
fn eg_derive_keeps_the_message() {
    let eg = sample();
    let derived = eg.derive(vec![val("new")]).unwrap();
    assert_eq!(shape(&derived), "msg[ValueError:new]");
    assert_eq!(eg.derive(vec![]).unwrap_err(), EmptyGroup);
}

#[test]
fn eg_typed_view_yields_leaves_without_downcasting() {
    let (values, _) = sample().split::<ValueError>();
    let values = values.unwrap();
    let inner: Vec<&ValueError> = values.errors().collect();
    assert_eq!(inner, [&ValueError("a".into()), &ValueError("c".into())]);
    assert_eq!(values.first(), Some(&ValueError("a".into())));
}

#[test]
fn eg_anyhow_and_thiserror_leaves_keep_their_downcasts() {
    let from_anyhow: anyhow::Error = anyhow::Error::new(ValueError("wrapped".into()));
    let anyhow_leaf = Leaf::from_boxed(
        from_anyhow.reallocate_into_boxed_dyn_error_without_backtrace(),
        "ValueError",
    );
    let io_leaf = Member::from(std::io::Error::other("disk"));
    let eg = group("m", vec![anyhow_leaf.into(), io_leaf, typ("t")]);
    assert!(eg.contains::<ValueError>());
    assert!(eg.contains::<std::io::Error>());
    let (values, _) = eg.split::<ValueError>();
    assert_eq!(values.unwrap().first().unwrap().0, "wrapped");
}

#[test]
fn eg_leaf_knows_its_short_type_name() {
    assert_eq!(
        Member::from(std::io::Error::other("x")).type_name(),
        "Error"
    );
    assert_eq!(val("x").type_name(), "ValueError");
    assert_eq!(sample().into_member().type_name(), "ErrorGroup");
}

#[tokio::test(start_paused = true)]
async fn eg_leaf_from_a_task_knows_the_tasks_id_and_name() {
    let mut ids = None;
    let tg = TaskGroup::builder()
        .policy(taskgroup::Policy::WaitAll)
        .build();
    let eg = tg
        .run(async {
            let a = tg.spawn_named("alpha", async { Res::<()>::Err(value_error("a")) });
            let b = tg.spawn(async { Res::<()>::Err(value_error("b")) });
            ids = Some((a.id(), b.id()));
            Ok::<_, Member>(())
        })
        .await
        .unwrap_err();
    let (a_id, b_id) = ids.unwrap();
    let by_message = |m: &str| eg.leaves().find(|l| l.to_string() == m).unwrap();
    let a = by_message("a").task().unwrap();
    assert_eq!((a.name(), a.id()), (Some("alpha"), a_id));
    let b = by_message("b").task().unwrap();
    assert_eq!((b.name(), b.id()), (None, b_id));
    assert!(a.to_string().contains("alpha"));
}

#[test]
fn eg_question_mark_converts_any_error_and_nests_groups() {
    fn raises() -> Result<(), Member> {
        Err(ValueError("v".into()))?
    }
    fn raises_group() -> Result<(), Member> {
        Err(sample())?
    }
    assert_eq!(raises().unwrap_err().type_name(), "ValueError");
    assert!(raises_group().unwrap_err().as_group().is_some());
}

fn deep(levels: usize) -> ErrorGroup {
    let mut eg = group("level", vec![val("bottom"), typ("t")]);
    for _ in 0..levels {
        eg = group("level", vec![eg.into_member(), val("side")]);
    }
    eg
}

#[test]
fn eg_100k_deep_tree_splits_prints_and_drops() {
    // Run on a small thread stack so that any recursion would overflow.
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let eg = deep(100_000);
            assert_eq!(eg.leaves().count(), 100_002);
            let text = format!("{eg:#}");
            assert!(text.contains("max_group_depth is 10"));
            let debug = format!("{eg:?}");
            assert!(debug.contains(".."));
            let (values, types) = eg.split::<ValueError>();
            assert_eq!(values.unwrap().errors().count(), 100_001);
            assert_eq!(types.unwrap().leaves().count(), 1);
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn eg_implements_std_error() {
    fn takes_error(_: &dyn std::error::Error) {}
    takes_error(&sample());
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(sample());
    assert!(boxed.to_string().ends_with("(3 sub-exceptions)"));
}
