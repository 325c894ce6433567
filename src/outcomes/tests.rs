use super::*;

fn decision(customer: &str, at_ms: i64, rule: u32, answer: AnswerKind) -> Decision {
    Decision {
        at_ms,
        app: "com.example.app".into(),
        environment: "sandbox".into(),
        product: "premium".into(),
        locale: "en-US".into(),
        rule: Some(rule),
        split: Some(0),
        answer,
        message: None,
        customer: customer.into(),
    }
}

fn outcome(customer: &str, at_ms: i64, event: Event, id: &str) -> Outcome {
    Outcome {
        at_ms,
        app: "com.example.app".into(),
        environment: "sandbox".into(),
        customer: customer.into(),
        event,
        product: Some("premium".into()),
        offer: None,
        notification: id.into(),
    }
}

const DAY: i64 = 86_400_000;

#[test]
fn outcomes_count_once_within_the_window_after_the_first_decision() {
    let decisions = vec![
        decision("a", 1_000, 1, AnswerKind::Message),
        decision("a", 5_000, 1, AnswerKind::Message), // the same customer again
        decision("b", 1_000, 1, AnswerKind::Message),
        decision("c", 1_000, 1, AnswerKind::Message),
    ];
    let outcomes = vec![
        outcome("a", 2_000, Event::AutoRenewOff, "n1"),
        outcome("a", 2_000, Event::AutoRenewOff, "n1"), // history and live: one notification
        outcome("b", 500, Event::AutoRenewOff, "n2"),   // before the decision
        outcome("c", 1_000 + 8 * DAY, Event::AutoRenewOff, "n3"), // after the window
        outcome("z", 2_000, Event::Expired, "n4"),      // nobody we answered
    ];
    let r = report(&decisions, &outcomes, None, 7 * DAY);
    assert_eq!(r.rows.len(), 1);
    let row = &r.rows[0];
    assert_eq!(row.shown, 3);
    assert_eq!(row.auto_renew_off.k, 1);
    assert_eq!(r.skipped.duplicate_outcomes, 1);
    assert_eq!(r.skipped.outcomes_without_decision, 1);
    // `since` leaves earlier decisions out.
    let later = report(&decisions, &outcomes, Some(2_000), 7 * DAY);
    assert_eq!(later.rows[0].shown, 1);
    assert_eq!(later.rows[0].auto_renew_off.k, 0);
}

/// A split of a control arm (rule 0, 30 % cancel) against a message (rule 1, 20 %), two
/// thousand customers each: the intervals hold the true rates and the message is named.
#[test]
fn a_split_names_the_arm_that_keeps_more_subscribers() {
    let mut decisions = vec![];
    let mut outcomes = vec![];
    for i in 0..4000u32 {
        let (rule, answer, cancels) = if i % 2 == 0 {
            (0, AnswerKind::Control, i % 20 < 6) // 6 of every 20 even ids: 30 %
        } else {
            (1, AnswerKind::Message, i % 10 == 1) // 1 of every 5 odd ids: 20 %
        };
        let customer = format!("c{i}");
        decisions.push(decision(&customer, 0, rule, answer));
        if cancels {
            outcomes.push(outcome(
                &customer,
                10,
                Event::AutoRenewOff,
                &format!("n{i}"),
            ));
        }
    }
    let r = report(&decisions, &outcomes, None, DAY);
    let split = &r.splits[0];
    assert_eq!(split.baseline.rule, 0);
    assert!(
        (split.baseline.auto_renew_off.value - 0.3).abs() < 0.001,
        "{split:?}"
    );
    let arm = &split.arms[0];
    assert!(
        arm.auto_renew_off.low < 0.2 && 0.2 < arm.auto_renew_off.high,
        "{arm:?}"
    );
    assert!(arm.p_value.unwrap() < 0.001);
    assert_eq!(split.verdict, Verdict::Better { rule: 1 });

    // Twenty customers an arm: the same rates are not enough evidence.
    let few: Vec<Decision> = decisions.iter().take(40).cloned().collect();
    let r = report(&few, &outcomes, None, DAY);
    assert_eq!(
        r.splits[0].verdict,
        Verdict::NotEnoughEvidence,
        "{:?}",
        r.splits[0]
    );
}

#[test]
fn a_cut_last_line_is_skipped_and_named() {
    let good = serde_json::to_string(&decision("a", 1, 0, AnswerKind::Message)).unwrap();
    let text = format!("{good}\n\nnot json\n{}", &good[..20]);
    let (mut records, mut bad) = (vec![], vec![]);
    records::read_records(
        text.as_bytes(),
        |line| {
            let d: Decision = serde_json::from_str(line).map_err(|_| "not a record")?;
            records.push(d);
            Ok(())
        },
        |line, why| bad.push((line, why)),
    )
    .unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(bad.len(), 2);
    assert_eq!(bad[0].0, 3);
    assert_eq!(bad[1].0, 4);
    assert!(bad[1].1.contains("cut short"), "{bad:?}");
}

/// A customer answered under two products counts once in their arm (the test's customers
/// must be independent), and environments are reported apart.
#[test]
fn an_arm_counts_each_customer_once_and_environments_apart() {
    let mut d = vec![
        decision("a", 0, 0, AnswerKind::Control),
        decision("b", 0, 1, AnswerKind::Message),
    ];
    let mut other_product = decision("b", 5, 1, AnswerKind::Message);
    other_product.product = "premium.yearly".into();
    d.push(other_product);
    let mut production = decision("c", 0, 1, AnswerKind::Message);
    production.environment = "production".into();
    d.push(production);
    let r = report(&d, &[], None, DAY);
    assert_eq!(r.rows.iter().map(|row| row.shown).sum::<u64>(), 4);
    let sandbox = r
        .splits
        .iter()
        .find(|s| s.environment == "sandbox")
        .unwrap();
    assert_eq!(sandbox.arms[0].auto_renew_off.n, 1, "{sandbox:?}");
    assert!(r.rows.iter().any(|row| row.key.environment == "production"));
}
