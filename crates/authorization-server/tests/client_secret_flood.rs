//! A flood of `client_secret_*` attempts (issue 4 item 2, review fix): argon2 runs a few at a
//! time, and a verification that cannot get a slot within a second answers "busy" (the token
//! endpoint's 503 `temporarily_unavailable`) instead of queueing without bound. Its own test
//! binary, because the argon2 slots are process-wide.

use numbat_authorization_server::client_secret::{generate, hash_blocking, verify, Busy};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_secret_checks_is_answered_busy_within_bounded_time() {
    let secret = generate();
    let phc = hash_blocking(secret.clone()).await.unwrap();
    assert_eq!(verify(phc.clone(), secret.clone()).await, Ok(true), "alone, the right secret verifies");

    // Far more work than four slots finish in a second: 600 wrong guesses at once.
    let start = Instant::now();
    let tasks: Vec<_> = (0..600).map(|i| tokio::spawn(verify(phc.clone(), format!("{secret}-{i}")))).collect();
    let (mut busy, mut refused) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Err(Busy) => busy += 1,
            Ok(false) => refused += 1,
            Ok(true) => panic!("a wrong secret verified"),
        }
    }
    let took = start.elapsed();
    assert!(busy > 0, "the queue is bounded: some attempts must be turned away ({refused} checked)");
    assert!(refused > 0, "the slots keep working during the flood");
    // Turned-away attempts wait about a second, not for the whole queue (600 × one argon2 / 4).
    assert!(took < Duration::from_secs(10), "the flood took {took:?}");

    // Afterwards the legitimate client gets through again.
    assert_eq!(verify(phc, secret).await, Ok(true));
}
