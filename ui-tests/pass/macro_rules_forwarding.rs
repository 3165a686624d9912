//! Types and expressions forwarded by `macro_rules!` arrive in invisible groups; the macros
//! accept them.
use taskgroup::task_group;

macro_rules! catching {
    ($err:ty, $limit:expr, $value:expr) => {
        task_group!(limit = $limit; |tg| {
            tg.spawn(async move { Err::<(), $err>($value) });
        }
        except* $err as eg => assert_eq!(eg.error_count(), 1),
        )
    };
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let outcome = catching!(std::fmt::Error, 2 + 2, std::fmt::Error);
    assert!(outcome.is_handled());
}
