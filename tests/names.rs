//! A group's name in its printed form (issue "Rust-native errors", part 7): CPython's message
//! stays intact, the name follows it in brackets, and `split` keeps it.

use taskgroup::{ErrorGroup, Member, TaskGroup};

async fn failing() -> Result<(), std::io::Error> {
    Err(std::io::Error::other("down"))
}

#[tokio::test]
async fn names_follow_cpythons_message_at_every_level() {
    let outer = TaskGroup::builder().name("outer").build();
    let eg = outer
        .run(async {
            outer.spawn(async {
                let inner = TaskGroup::builder().name("inner").build();
                inner
                    .run(async {
                        inner.spawn(failing());
                        Ok::<_, Member>(())
                    })
                    .await
            });
            Ok::<_, Member>(())
        })
        .await
        .unwrap_err();
    assert_eq!(eg.name(), Some("outer"));
    assert_eq!(
        eg.to_string(),
        "unhandled errors in a TaskGroup (1 sub-exception) [outer]"
    );
    let inner = eg.iter().next().and_then(Member::as_group).unwrap();
    assert_eq!(inner.name(), Some("inner"));
    let traceback = format!("{eg:#}");
    assert!(traceback.starts_with(
        "  | ErrorGroup: unhandled errors in a TaskGroup (1 sub-exception) [outer]\n"
    ));
    assert!(
        traceback
            .contains("| ErrorGroup: unhandled errors in a TaskGroup (1 sub-exception) [inner]\n")
    );
}

#[tokio::test]
async fn names_survive_split_and_derive() {
    let tg = TaskGroup::builder().name("fetchers").build();
    let eg: ErrorGroup = tg
        .run(async {
            tg.spawn(failing());
            Ok::<_, Member>(())
        })
        .await
        .unwrap_err();
    let derived = eg
        .derive(vec![Member::from(std::io::Error::other("x"))])
        .unwrap();
    assert_eq!(derived.name(), Some("fetchers"));
    let (matched, rest) = eg.split::<std::io::Error>();
    assert!(rest.is_none());
    assert_eq!(matched.unwrap().into_untyped().name(), Some("fetchers"));
}

#[tokio::test]
async fn names_an_unnamed_group_prints_as_cpython_does() {
    let tg = TaskGroup::new();
    let eg = tg
        .run(async {
            tg.spawn(failing());
            Ok::<_, Member>(())
        })
        .await
        .unwrap_err();
    assert_eq!(eg.name(), None);
    assert_eq!(
        eg.to_string(),
        "unhandled errors in a TaskGroup (1 sub-exception)"
    );
}
