//! `SingleFlight`: concurrent callers of one operation share a single run of it (the refresh).

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// One run at a time; whoever arrives while it runs gets a clone of its result.
/// Single-threaded (wasm, and the browser's event loop), hence `Rc`/`RefCell`.
pub struct SingleFlight<T> {
    /// `Some` while a run is in flight: the callers waiting for it.
    waiting: RefCell<Option<Vec<Rc<Slot<T>>>>>,
}

struct Slot<T> {
    /// `Some(Some(v))`: the run's result; `Some(None)`: the run was dropped unfinished.
    outcome: RefCell<Option<Option<T>>>,
    waker: RefCell<Option<Waker>>,
}

impl<T> Default for SingleFlight<T> {
    fn default() -> Self {
        SingleFlight {
            waiting: RefCell::new(None),
        }
    }
}

enum Role<T> {
    Leader,
    Follower(Rc<Slot<T>>),
}

impl<T: Clone> SingleFlight<T> {
    /// Runs `work`, or, when a run is already in flight, waits for its result instead.
    pub async fn run<F, Fut>(&self, work: F) -> T
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        loop {
            match self.join() {
                Role::Leader => break,
                Role::Follower(slot) => {
                    if let Some(value) = (Wait { slot }).await {
                        return value;
                    }
                    // The run was abandoned (its caller went away): start another.
                }
            }
        }
        let mut lead = Lead {
            flight: self,
            finished: false,
        };
        let value = work().await;
        lead.finish(Some(value.clone()));
        value
    }

    /// Whether a run is in flight now.
    pub fn in_flight(&self) -> bool {
        self.waiting.borrow().is_some()
    }

    fn join(&self) -> Role<T> {
        let mut waiting = self.waiting.borrow_mut();
        match waiting.as_mut() {
            Some(list) => {
                let slot = Rc::new(Slot {
                    outcome: RefCell::new(None),
                    waker: RefCell::new(None),
                });
                list.push(Rc::clone(&slot));
                Role::Follower(slot)
            }
            None => {
                *waiting = Some(Vec::new());
                Role::Leader
            }
        }
    }
}

/// The leader's duty: hand the result to everyone waiting, even if dropped midway.
struct Lead<'a, T> {
    flight: &'a SingleFlight<T>,
    finished: bool,
}

impl<T: Clone> Lead<'_, T> {
    fn finish(&mut self, value: Option<T>) {
        self.finished = true;
        let waiters = self.flight.waiting.borrow_mut().take().unwrap_or_default();
        for slot in waiters {
            *slot.outcome.borrow_mut() = Some(value.clone());
            if let Some(waker) = slot.waker.borrow_mut().take() {
                waker.wake();
            }
        }
    }
}

impl<T> Drop for Lead<'_, T> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let waiters = self.flight.waiting.borrow_mut().take().unwrap_or_default();
        for slot in waiters {
            *slot.outcome.borrow_mut() = Some(None);
            if let Some(waker) = slot.waker.borrow_mut().take() {
                waker.wake();
            }
        }
    }
}

struct Wait<T> {
    slot: Rc<Slot<T>>,
}

impl<T> Future for Wait<T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if let Some(outcome) = self.slot.outcome.borrow_mut().take() {
            return Poll::Ready(outcome);
        }
        *self.slot.waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::cell::Cell;
    use std::task::Waker;

    /// Polls every future in turn until all are done: a stand-in for the JS
    /// event loop, where every await that is not ready yields to the others.
    pub(crate) fn run_all<T>(futures: Vec<Pin<Box<dyn Future<Output = T> + '_>>>) -> Vec<T> {
        let mut futures: Vec<_> = futures.into_iter().map(Some).collect();
        let mut out: Vec<Option<T>> = futures.iter().map(|_| None).collect();
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..100_000 {
            let mut pending = false;
            for (slot, result) in futures.iter_mut().zip(out.iter_mut()) {
                if let Some(f) = slot {
                    match f.as_mut().poll(&mut cx) {
                        Poll::Ready(v) => {
                            *result = Some(v);
                            *slot = None;
                        }
                        Poll::Pending => pending = true,
                    }
                }
            }
            if !pending {
                return out
                    .into_iter()
                    .map(|v| v.expect("every future finished"))
                    .collect();
            }
        }
        panic!("futures did not finish");
    }

    /// A future that is pending `n` times before it is ready (network latency).
    pub(crate) struct Ticks(pub u32);
    impl Future for Ticks {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
            if self.0 == 0 {
                Poll::Ready(())
            } else {
                self.0 -= 1;
                Poll::Pending
            }
        }
    }

    #[test]
    fn concurrent_callers_share_one_run() {
        let flight = SingleFlight::<u32>::default();
        let runs = Cell::new(0);
        let call = || {
            Box::pin(flight.run(|| async {
                runs.set(runs.get() + 1);
                Ticks(5).await;
                runs.get() * 10
            })) as Pin<Box<dyn Future<Output = u32>>>
        };
        let results = run_all((0..20).map(|_| call()).collect());
        assert_eq!(runs.get(), 1);
        assert_eq!(results, vec![10; 20]);
        assert!(!flight.in_flight());

        // A later call starts a new run.
        let results = run_all(vec![call()]);
        assert_eq!((runs.get(), results), (2, vec![20]));
    }

    #[test]
    fn an_abandoned_run_lets_a_waiter_take_over() {
        let flight = SingleFlight::<&'static str>::default();
        let mut cx = Context::from_waker(Waker::noop());
        let mut leader = Box::pin(flight.run(|| async {
            Ticks(100).await;
            "leader"
        }));
        assert!(leader.as_mut().poll(&mut cx).is_pending());
        let mut follower = Box::pin(flight.run(|| async { "follower" }));
        assert!(follower.as_mut().poll(&mut cx).is_pending());
        drop(leader);
        assert_eq!(follower.as_mut().poll(&mut cx), Poll::Ready("follower"));
        assert!(!flight.in_flight());
    }
}
