//! The state machine of `SyncClient`/`PyodideClient` (comsync's page side): one call at a time,
//! the message IDs the worker will read, queued writes and the interrupt strategy.
//!
//! Plain Rust, unit-tested natively; `python-runner.mjs` wraps it in the JS classes, which own
//! the worker, Comlink and the promises.

use std::fmt;

/// What the client is doing, as comsync names it (`client.state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Idle,
    Running,
    AwaitingMessage,
    Sleeping,
}

impl State {
    /// comsync's name of the state.
    pub fn name(self) -> &'static str {
        match self {
            State::Idle => "idle",
            State::Running => "running",
            State::AwaitingMessage => "awaitingMessage",
            State::Sleeping => "sleeping",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// The messages of comsync's client, exact.
pub mod messages {
    /// `writeMessage` with no call running.
    pub const NO_ACTIVE_CALL: &str = "No active call to send a message to.";
    /// A second `writeMessage` while the worker is not reading and one is already queued.
    pub const ALREADY_QUEUED: &str =
        "Not waiting for message, and another write is already queued.";
    /// The call ended (returned, threw, or was interrupted) while a write waited for it to read.
    /// Upstream leaves such a write pending forever.
    pub const CALL_ENDED: &str =
        "The call ended before the worker read this message, so it was not sent.";
}

/// What `writeMessage` does now.
#[derive(Debug, PartialEq, Eq)]
pub enum Write {
    /// The worker is reading message `id`: send it now.
    Now(String),
    /// The worker is not reading yet: wait for its next "reading" status, then ask [`ClientMachine::queued_write`].
    Queue,
}

/// How `interrupt()` reaches the worker, in comsync's order.
#[derive(Debug, PartialEq, Eq)]
pub enum Interrupt {
    /// No call is running: nothing to do.
    Nothing,
    /// The worker is blocked reading or sleeping: send `{interrupted: true}` as message `id`.
    Message(String),
    /// The worker is busy: call the client's `interrupter` (Pyodide's interrupt buffer).
    Interrupter,
    /// Nothing else can reach it: terminate the worker and start a new one.
    Terminate,
}

/// What a status from the worker means for the page.
#[derive(Debug, PartialEq, Eq)]
pub enum StatusEffect {
    Nothing,
    /// The worker now reads: the queued write may go (as [`ClientMachine::queued_write`]).
    WakeQueuedWrite,
}

/// One client's bookkeeping.
#[derive(Debug)]
pub struct ClientMachine {
    state: State,
    /// Increases with every call; statuses carry it so a late one from an earlier call is ignored.
    call: u32,
    /// `<base>-<seq>` is the ID of the message the worker reads (or sleeps on) next.
    base: Option<String>,
    seq: u32,
    write_queued: bool,
}

impl Default for ClientMachine {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientMachine {
    pub fn new() -> Self {
        Self {
            state: State::Idle,
            call: 0,
            base: None,
            seq: 0,
            write_queued: false,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Starts a call whose message IDs begin with `base` (a fresh UUID); returns the call's number.
    pub fn begin_call(&mut self, base: String) -> Result<u32, String> {
        if self.state != State::Idle {
            return Err(format!("State is {}, not idle", self.state));
        }
        self.call = self.call.wrapping_add(1);
        self.state = State::Running;
        self.base = Some(base);
        self.seq = 0;
        self.write_queued = false;
        Ok(self.call)
    }

    /// A status the worker sent during call `call`: "init", "reading", "sleeping" or "slept".
    pub fn status(&mut self, call: u32, status: &str) -> StatusEffect {
        if call != self.call || self.state == State::Idle {
            return StatusEffect::Nothing;
        }
        match status {
            "reading" => {
                self.state = State::AwaitingMessage;
                self.seq += 1;
                if std::mem::take(&mut self.write_queued) {
                    return StatusEffect::WakeQueuedWrite;
                }
            }
            "sleeping" => {
                self.state = State::Sleeping;
                self.seq += 1;
            }
            "slept" => self.state = State::Running,
            _ => {}
        }
        StatusEffect::Nothing
    }

    /// `writeMessage`: send now, queue, or refuse with comsync's message.
    pub fn write(&mut self) -> Result<Write, String> {
        let Some(id) = self.current_id() else {
            return Err(messages::NO_ACTIVE_CALL.to_string());
        };
        if self.state == State::AwaitingMessage {
            self.state = State::Running;
            return Ok(Write::Now(id));
        }
        if self.write_queued {
            return Err(messages::ALREADY_QUEUED.to_string());
        }
        self.write_queued = true;
        Ok(Write::Queue)
    }

    /// The queued write's turn came (after [`StatusEffect::WakeQueuedWrite`]) in call `call`:
    /// its message ID, or why it cannot be sent.
    pub fn queued_write(&mut self, call: u32) -> Result<String, String> {
        match self.current_id() {
            Some(id) if call == self.call && self.state == State::AwaitingMessage => {
                self.state = State::Running;
                Ok(id)
            }
            _ => Err(messages::CALL_ENDED.to_string()),
        }
    }

    /// `interrupt()`: the first strategy that applies; `has_interrupter` is whether the client has one.
    pub fn interrupt(&mut self, has_interrupter: bool) -> Interrupt {
        match self.state {
            State::Idle => Interrupt::Nothing,
            State::AwaitingMessage | State::Sleeping => match self.current_id() {
                Some(id) => {
                    self.state = State::Running;
                    Interrupt::Message(id)
                }
                None => Interrupt::Nothing,
            },
            State::Running if has_interrupter => Interrupt::Interrupter,
            State::Running => Interrupt::Terminate,
        }
    }

    /// The call ended, however. Returns whether a write was still queued (it must be rejected
    /// with [`messages::CALL_ENDED`]).
    pub fn end_call(&mut self) -> bool {
        self.state = State::Idle;
        self.base = None;
        self.seq = 0;
        std::mem::take(&mut self.write_queued)
    }

    fn current_id(&self) -> Option<String> {
        if self.state == State::Idle {
            return None;
        }
        let base = self.base.as_ref()?;
        Some(format!("{base}-{}", self.seq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running() -> (ClientMachine, u32) {
        let mut machine = ClientMachine::new();
        let call = machine.begin_call("base".into()).unwrap_or_default();
        (machine, call)
    }

    #[test]
    fn one_call_at_a_time() {
        let (mut machine, _) = running();
        assert_eq!(machine.state(), State::Running);
        assert_eq!(
            machine.begin_call("other".into()),
            Err("State is running, not idle".to_string())
        );
        assert!(!machine.end_call());
        assert_eq!(machine.state(), State::Idle);
        assert!(machine.begin_call("other".into()).is_ok());
    }

    #[test]
    fn reads_are_numbered_from_one_as_the_worker_numbers_them() {
        let (mut machine, call) = running();
        assert_eq!(machine.status(call, "init"), StatusEffect::Nothing);
        machine.status(call, "reading");
        assert_eq!(machine.state(), State::AwaitingMessage);
        assert_eq!(machine.write(), Ok(Write::Now("base-1".into())));
        assert_eq!(machine.state(), State::Running);
        machine.status(call, "sleeping");
        assert_eq!(machine.state(), State::Sleeping);
        machine.status(call, "slept");
        assert_eq!(machine.state(), State::Running);
        machine.status(call, "reading");
        assert_eq!(machine.write(), Ok(Write::Now("base-3".into())));
    }

    #[test]
    fn a_write_before_the_read_waits_for_it() {
        let (mut machine, call) = running();
        assert_eq!(machine.write(), Ok(Write::Queue));
        assert_eq!(machine.write(), Err(messages::ALREADY_QUEUED.to_string()));
        assert_eq!(
            machine.status(call, "reading"),
            StatusEffect::WakeQueuedWrite
        );
        assert_eq!(machine.queued_write(call), Ok("base-1".into()));
        assert_eq!(machine.state(), State::Running);
    }

    #[test]
    fn a_queued_write_is_refused_when_the_call_ends_instead_of_hanging() {
        let (mut machine, _) = running();
        assert_eq!(machine.write(), Ok(Write::Queue));
        assert!(machine.end_call());
        assert_eq!(
            machine.queued_write(1),
            Err(messages::CALL_ENDED.to_string())
        );
    }

    #[test]
    fn writes_without_a_call_are_refused() {
        let mut machine = ClientMachine::new();
        assert_eq!(machine.write(), Err(messages::NO_ACTIVE_CALL.to_string()));
    }

    #[test]
    fn statuses_of_an_earlier_call_are_ignored() {
        let (mut machine, first) = running();
        machine.end_call();
        let second = machine.begin_call("next".into()).unwrap_or_default();
        assert_ne!(first, second);
        machine.status(first, "reading");
        assert_eq!(machine.state(), State::Running);
        machine.status(second, "reading");
        assert_eq!(machine.write(), Ok(Write::Now("next-1".into())));
    }

    #[test]
    fn interrupt_follows_comsyncs_order() {
        let mut idle = ClientMachine::new();
        assert_eq!(idle.interrupt(true), Interrupt::Nothing);

        let (mut machine, call) = running();
        machine.status(call, "reading");
        assert_eq!(machine.interrupt(true), Interrupt::Message("base-1".into()));
        assert_eq!(machine.state(), State::Running);
        machine.status(call, "sleeping");
        assert_eq!(
            machine.interrupt(false),
            Interrupt::Message("base-2".into())
        );
        assert_eq!(machine.interrupt(true), Interrupt::Interrupter);
        assert_eq!(machine.interrupt(false), Interrupt::Terminate);
    }
}
