use taskgroup::{ErrorGroup, Outcome, except_star, task_group};

#[derive(Debug, thiserror::Error)]
#[error("value: {0}")]
struct ValueError(&'static str);

#[except_star(ValueError)]
async fn on_value(eg: ErrorGroup<ValueError>) {
    assert!(eg.len() > 0);
}

#[tokio::test]
async fn dsl_smoke() {
    let r = task_group!(|tg| {
        tg.spawn(async { Err::<(), _>(ValueError("a")) });
        1
    });
    assert!(r.is_err());
    let o = task_group!(|tg| {
        tg.spawn(async { Err::<(), _>(ValueError("a")) });
        1
    }
    except* ValueError as eg => println!("{eg}"),
    );
    assert!(matches!(o, Outcome::Handled));
    let o = task_group!(limit = 2, policy = wait_all; |tg| {
        tg.spawn(async { Err::<(), _>(ValueError("a")) });
        1
    }
    except* on_value,
    );
    assert!(o.is_handled());
    let fut = async {
        task_group!(|tg| { tg.spawn(async { Err::<(), _>(ValueError("a")) }); } except* on_value)
    };
    fn is_send<T: Send>(_: &T) {}
    is_send(&fut);
    assert!(fut.await.is_handled());
}
