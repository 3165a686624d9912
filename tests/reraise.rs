//! CPython's bare `raise` inside `except*`: `Err(eg.reraise())` puts a clause's leaves back in
//! their original place, so the scope's error keeps the original messages and nesting,
//! restricted to the re-raised leaves and the ones no clause handled. `Err(eg)` stays a new
//! raise, nested in `ErrorGroup("", [eg, rest])`.

use taskgroup::{ErrorGroup, ExceptStar, Member, Outcome, except_star, task_group};

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct ValueError(u32);

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct TypeError(u32);

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct KeyError(u32);

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct RuntimeError(&'static str);

/// `ExceptionGroup("outer", [ValueError(1), TypeError(2), ExceptionGroup("inner", [ValueError(3), KeyError(4)])])`.
fn outer() -> ErrorGroup {
    let inner = ErrorGroup::new("inner", vec![ValueError(3).into(), KeyError(4).into()]).unwrap();
    ErrorGroup::new(
        "outer",
        vec![
            ValueError(1).into(),
            TypeError(2).into(),
            Member::Group(inner),
        ],
    )
    .unwrap()
}

/// The tree as `message[..]` / `Type(value)`, to compare shapes in one assertion.
fn shape(group: &ErrorGroup) -> String {
    fn member(m: &Member, out: &mut String) {
        match m {
            Member::Leaf(leaf) => out.push_str(&format!("{}({leaf})", leaf.type_name())),
            Member::Group(g) => tree(g, out),
        }
    }
    fn tree(g: &ErrorGroup, out: &mut String) {
        out.push_str(&format!("{:?}[", g.message()));
        for (i, m) in g.members().iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            member(m, out);
        }
        out.push(']');
    }
    let mut out = String::new();
    tree(group, &mut out);
    out
}

#[test]
fn reraise_puts_leaves_back_in_their_original_place() {
    // CPython: `except* ValueError: raise` / `except* KeyError: pass` gives
    // ExceptionGroup('outer', [ValueError(1), TypeError(2), ExceptionGroup('inner', [ValueError(3)])]).
    let mut clauses = ExceptStar::new(outer());
    let values = clauses.take::<ValueError>().unwrap();
    clauses.raise(values.reraise());
    clauses.take::<KeyError>().unwrap();
    let left = clauses.finish().unwrap();
    assert_eq!(
        shape(&left),
        r#""outer"[ValueError(1), TypeError(2), "inner"[ValueError(3)]]"#
    );
}

#[test]
fn reraise_beside_a_new_raise_nests_the_projection_last() {
    // One clause re-raises, another raises a new error: ErrorGroup("", [new, projection]).
    let mut clauses = ExceptStar::new(outer());
    let values = clauses.take::<ValueError>().unwrap();
    clauses.raise(values.reraise());
    clauses.take::<KeyError>().unwrap();
    clauses.raise(RuntimeError("new"));
    let left = clauses.finish().unwrap();
    assert_eq!(
        shape(&left),
        r#"""[RuntimeError(new), "outer"[ValueError(1), TypeError(2), "inner"[ValueError(3)]]]"#
    );
}

#[test]
fn reraise_differs_from_raising_the_group_itself() {
    let mut clauses = ExceptStar::new(outer());
    let values = clauses.take::<ValueError>().unwrap();
    clauses.raise(values); // `raise eg`: a new raise
    let left = clauses.finish().unwrap();
    assert_eq!(
        shape(&left),
        r#"""["outer"[ValueError(1), "inner"[ValueError(3)]], "outer"[TypeError(2), "inner"[KeyError(4)]]]"#
    );
}

#[test]
fn reraise_of_every_leaf_gives_the_original_group_back() {
    let original = format!("{:#}", outer());
    let mut clauses = ExceptStar::new(outer());
    let values = clauses.take::<ValueError>().unwrap();
    let types = clauses.take::<TypeError>().unwrap();
    clauses.raise(types.reraise());
    clauses.raise(values.reraise());
    let left = clauses.finish().unwrap();
    assert_eq!(format!("{left:#}"), original);
}

#[test]
fn reraise_of_part_of_a_clause_group_keeps_only_that_part() {
    // The clause splits its group again and re-raises one side; the other is handled.
    let mut clauses = ExceptStar::new(outer());
    let values = clauses.take::<ValueError>().unwrap();
    let (big, _small) = values
        .into_untyped()
        .split_matching(|e: &ValueError| e.0 > 1);
    clauses.raise(big.unwrap().reraise());
    let left = clauses.finish().unwrap();
    assert_eq!(
        shape(&left),
        r#""outer"[TypeError(2), "inner"[ValueError(3), KeyError(4)]]"#
    );
}

#[test]
fn reraise_of_a_group_from_elsewhere_is_a_new_raise_and_loses_nothing() {
    let mut clauses = ExceptStar::new(outer());
    clauses.take::<ValueError>().unwrap();
    let stranger = ErrorGroup::new("stranger", vec![KeyError(9).into()]).unwrap();
    clauses.raise(stranger.reraise());
    let left = clauses.finish().unwrap();
    assert_eq!(
        shape(&left),
        r#"""["stranger"[KeyError(9)], "outer"[TypeError(2), "inner"[KeyError(4)]]]"#
    );
}

#[test]
fn reraise_keeps_the_group_names() {
    let inner = ErrorGroup::new("inner", vec![ValueError(1).into()]).unwrap();
    let mut clauses =
        ExceptStar::new(ErrorGroup::new("outer", vec![Member::Group(inner)]).unwrap());
    let eg = clauses.take::<ValueError>().unwrap();
    clauses.raise(eg.reraise());
    assert_eq!(
        clauses.finish().unwrap().to_string(),
        "outer (1 sub-exception)"
    );
}

#[test]
fn reraise_of_a_very_deep_tree_does_not_overflow_the_stack() {
    const DEPTH: usize = 100_000;
    let mut group = ErrorGroup::new("0", vec![ValueError(0).into(), TypeError(0).into()]).unwrap();
    for level in 1..DEPTH {
        group = ErrorGroup::new(level.to_string(), vec![Member::Group(group)]).unwrap();
    }
    let mut clauses = ExceptStar::new(group);
    let values = clauses.take::<ValueError>().unwrap();
    clauses.take::<TypeError>().unwrap();
    clauses.raise(values.reraise());
    let left = clauses.finish().unwrap();
    // Every level is back, down to the one leaf left.
    let mut depth = 1;
    let mut at = &left;
    while let Some(Member::Group(inner)) = at.members().first() {
        depth += 1;
        at = inner;
    }
    assert_eq!(depth, DEPTH);
    assert_eq!(at.message(), "0");
    assert_eq!(shape(at), r#""0"[ValueError(0)]"#);
}

#[tokio::test]
async fn reraise_in_a_clause_gives_the_scope_the_original_shape() {
    let outcome = task_group!(|tg| {
        tg.spawn(async { Err::<(), _>(ValueError(1)) });
        tg.spawn(async { Err::<(), _>(TypeError(2)) });
    }
    except* ValueError as eg => {
        assert_eq!(eg.error_count(), 1);
        Err(eg.reraise())
    },
    except* TypeError => ());
    let Outcome::Unhandled(eg) = outcome else {
        panic!("the ValueError was re-raised");
    };
    assert_eq!(eg.message(), taskgroup::TASK_GROUP_MESSAGE);
    assert_eq!(
        shape(&eg),
        format!("{:?}[ValueError(1)]", taskgroup::TASK_GROUP_MESSAGE)
    );
}

#[tokio::test]
async fn reraise_with_return_and_question_mark_in_clauses() {
    let outcome = task_group!(|_tg| {
        Err::<(), _>(outer())?
    }
    except* KeyError as eg => {
        if eg.error_count() == 1 {
            return Err(eg.reraise());
        }
    },
    except* ValueError as eg => {
        Result::<(), _>::Err(eg.reraise())?;
    },
    except* TypeError => ());
    let Outcome::Unhandled(eg) = outcome else {
        panic!("errors were re-raised");
    };
    // The body's `?` nested `outer` whole in the scope's group; re-raising keeps that too.
    assert_eq!(
        shape(&eg),
        format!(
            r#"{:?}["outer"[ValueError(1), "inner"[ValueError(3), KeyError(4)]]]"#,
            taskgroup::TASK_GROUP_MESSAGE
        )
    );
}

#[except_star(ValueError)]
async fn log_and_reraise(eg: ErrorGroup<ValueError>) -> Result<(), ErrorGroup> {
    Err(eg.reraise())
}

#[tokio::test]
async fn reraise_from_a_handler() {
    let failed: Result<(), ErrorGroup> = Err(outer());
    let outcome = except_star::<log_and_reraise, _>(failed).await;
    let eg = outcome.unhandled().unwrap();
    assert_eq!(
        shape(&eg),
        r#""outer"[ValueError(1), TypeError(2), "inner"[ValueError(3), KeyError(4)]]"#
    );
}
