//! The macros used by path from modules that import nothing, and a handler named by path
//! from another module; error types private to their module.

mod handlers {
    #[derive(Debug)]
    pub(crate) struct Timeout;
    impl std::fmt::Display for Timeout {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("timeout")
        }
    }
    impl std::error::Error for Timeout {}

    #[derive(Debug)]
    struct Private;
    impl std::fmt::Display for Private {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("private")
        }
    }
    impl std::error::Error for Private {}

    #[taskgroup::except_star(Timeout)]
    pub async fn on_timeout(eg: taskgroup::ErrorGroup<Timeout>) {
        assert_eq!(eg.first().map(ToString::to_string).as_deref(), Some("timeout"));
    }

    #[taskgroup::except_star(Private, Timeout)]
    pub async fn on_private(eg: taskgroup::ErrorGroup) {
        assert!(!eg.is_empty());
    }
}

mod scopes {
    pub async fn run() {
        let outcome = taskgroup::task_group!(|tg| {
            tg.spawn(async { Err::<(), _>(crate::handlers::Timeout) });
        }
        except* crate::handlers::on_timeout,
        except* super::handlers::on_private,
        );
        assert!(outcome.is_handled());

        let failed: Result<(), taskgroup::ErrorGroup> = taskgroup::task_group!(|_| {
            Err(crate::handlers::Timeout)?
        });
        let outcome = taskgroup::except_star::<crate::handlers::on_timeout, _>(failed).await;
        assert!(outcome.is_handled());
    }

    pub async fn in_a_fn_body() {
        #[derive(Debug)]
        struct Local;
        impl std::fmt::Display for Local {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("local")
            }
        }
        impl std::error::Error for Local {}

        #[taskgroup::except_star(Local)]
        async fn on_local(eg: taskgroup::ErrorGroup<Local>) {
            assert_eq!(eg.error_count(), 1);
        }

        let outcome = taskgroup::task_group!(|tg| { tg.spawn(async { Err::<(), _>(Local) }); }
            except* on_local,
        );
        assert!(outcome.is_handled());
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    scopes::run().await;
    scopes::in_a_fn_body().await;
}
