//! The application endpoint's state: the On/Off Light of endpoint [`LIGHT_ENDPOINT`] (Matter 1.3
//! Device Library §4.1), i.e. the On/Off cluster with the Lighting feature (Application Cluster
//! Specification §1.5) and the Identify cluster's timer (§1.2), plus the operations the clusters
//! and the node's timer run on it.
//!
//! The operations live on [`NodeState`] so that every change is marked for subscriptions
//! ([`NodeState::mark_changed`]) and every change of OnOff queues [`Effect::OnOffChanged`] for the
//! shell (a relay, a script). OnOff and StartUpOnOff are persisted (record "on-off"); OnTime,
//! OffWaitTime, GlobalSceneControl and IdentifyTime are volatile, as their qualities say (only
//! OnOff and StartUpOnOff carry "N" in §1.5.6).
//!
//! Two clocks run here, both as deadlines the node's `poll_timeout` includes:
//! - the OnWithTimedOff countdown (§1.5.7.6.4): OnTime and OffWaitTime are counted down in
//!   1/10 s steps while it runs;
//! - IdentifyTime (§1.2.5.1), counted down once a second while identifying.

use tracing::debug;

use super::{cluster_id, Effect, NodeState};
use crate::time::{Duration, Instant};

/// The endpoint the light is on.
pub const LIGHT_ENDPOINT: u16 = 1;

/// On/Off attribute ids (§1.5.6).
pub mod attr {
    /// OnOff.
    pub const ON_OFF: u32 = 0x0000;
    /// GlobalSceneControl.
    pub const GLOBAL_SCENE_CONTROL: u32 = 0x4000;
    /// OnTime.
    pub const ON_TIME: u32 = 0x4001;
    /// OffWaitTime.
    pub const OFF_WAIT_TIME: u32 = 0x4002;
    /// StartUpOnOff.
    pub const START_UP_ON_OFF: u32 = 0x4003;
    /// Identify's IdentifyTime.
    pub const IDENTIFY_TIME: u32 = 0x0000;
}

/// The OnWithTimedOff countdown step: 1/10 s (§1.5.6.4, §1.5.7.6.4).
pub const TIMED_STEP: Duration = Duration::from_millis(100);
/// The IdentifyTime countdown step: 1 s (§1.2.5.1).
pub const IDENTIFY_STEP: Duration = Duration::from_millis(1000);

/// StartUpOnOffEnum (§1.5.5.2); null (the previous value) is `None` in [`LightState`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum StartUpOnOff {
    /// Off at power-up.
    Off = 0,
    /// On at power-up.
    On = 1,
    /// The opposite of the previous value.
    Toggle = 2,
}

impl StartUpOnOff {
    /// From the wire value; `None` for the reserved values (CONSTRAINT_ERROR on a write).
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0 => Self::Off,
            1 => Self::On,
            2 => Self::Toggle,
            _ => return None,
        })
    }
}

/// The light's attributes and timers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LightState {
    /// OnOff (persisted).
    pub on_off: bool,
    /// StartUpOnOff (persisted; `None` is null: keep the previous value).
    pub start_up_on_off: Option<StartUpOnOff>,
    /// GlobalSceneControl (volatile; true at start, §1.5.6.3).
    pub global_scene_control: bool,
    /// OnTime in 1/10 s (volatile).
    pub on_time: u16,
    /// OffWaitTime in 1/10 s (volatile).
    pub off_wait_time: u16,
    /// Identify's IdentifyTime in seconds (volatile).
    pub identify_time: u16,
    /// The OnWithTimedOff countdown is running: from the command until OnTime and OffWaitTime
    /// are both 0 (§1.5.7.6.4).
    timed: bool,
    /// The next 1/10 s step of the countdown: set only while a step would change something
    /// (OnTime while on, OffWaitTime while off), so an idle countdown wakes nobody.
    timed_tick: Option<Instant>,
    /// The next 1 s step of IdentifyTime, while identifying.
    identify_tick: Option<Instant>,
}

impl Default for LightState {
    /// A factory-new light: off, StartUpOnOff null, GlobalSceneControl true.
    fn default() -> Self {
        Self {
            on_off: false,
            start_up_on_off: None,
            global_scene_control: true,
            on_time: 0,
            off_wait_time: 0,
            identify_time: 0,
            timed: false,
            timed_tick: None,
            identify_tick: None,
        }
    }
}

impl LightState {
    /// The earliest of the light's deadlines.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.timed_tick, self.identify_tick]
            .into_iter()
            .flatten()
            .min()
    }

    /// Whether the OnWithTimedOff countdown is running (the Timed On or Delayed Off state).
    pub fn is_timed(&self) -> bool {
        self.timed
    }

    /// Whether a countdown step would change an attribute.
    fn step_counts(&self) -> bool {
        if self.on_off {
            self.on_time > 0
        } else {
            self.off_wait_time > 0
        }
    }

    /// Whether the endpoint is identifying (IdentifyTime above 0).
    pub fn is_identifying(&self) -> bool {
        self.identify_time > 0
    }
}

/// OnWithTimedOff's fields (§1.5.7.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimedOff {
    /// OnOffControl bit 0, AcceptOnlyWhenOn.
    pub accept_only_when_on: bool,
    /// OnTime in 1/10 s (max 0xFFFE).
    pub on_time: u16,
    /// OffWaitTime in 1/10 s (max 0xFFFE).
    pub off_wait_time: u16,
}

impl NodeState {
    // ---- On/Off commands (§1.5.7) ----

    /// Off (§1.5.7.1) at `now`: off, and OnTime 0 (Lighting). During a countdown the Delayed
    /// Off guard (OffWaitTime) starts counting.
    pub fn light_off(&mut self, now: Instant) {
        self.light_turn_off();
        self.light_rearm(now);
    }

    /// On (§1.5.7.2) at `now`: on; OffWaitTime 0 if OnTime is 0; GlobalSceneControl true.
    pub fn light_on(&mut self, now: Instant) {
        self.light_turn_on();
        self.light_rearm(now);
    }

    /// Toggle (§1.5.7.3) at `now`: On when off, Off when on, with their attribute rules.
    pub fn light_toggle(&mut self, now: Instant) {
        if self.light.on_off {
            self.light_turn_off();
        } else {
            self.light_turn_on();
        }
        self.light_rearm(now);
    }

    /// OffWithEffect (§1.5.7.4): GlobalSceneControl true means the current settings become the
    /// global scene and GlobalSceneControl goes false; then off. The fade effects are the
    /// output's business: a relay has none, so the light goes off at once.
    pub fn light_off_with_effect(&mut self, now: Instant) {
        if self.light.global_scene_control {
            // No Scenes Management cluster (provisional in 1.3): there is no global scene to
            // store into; the attribute still follows the spec.
            self.set_global_scene_control(false);
        }
        self.light_turn_off();
        self.light_rearm(now);
    }

    /// OnWithRecallGlobalScene (§1.5.7.5): ignored while GlobalSceneControl is true; otherwise
    /// the global scene would be recalled (none is stored: no Scenes Management), the light
    /// goes on and GlobalSceneControl true.
    pub fn light_on_with_recall_global_scene(&mut self, now: Instant) {
        if !self.light.global_scene_control {
            self.light_turn_on();
            self.light_rearm(now);
        }
    }

    /// OnWithTimedOff (§1.5.7.6.4) at `now`: discarded when AcceptOnlyWhenOn is set and the light
    /// is off; while off in the Delayed Off guard (OffWaitTime above 0) only shortens the guard;
    /// otherwise OnTime becomes the larger of the two, OffWaitTime the command's, and the light
    /// goes on. The 1/10 s countdown then runs until both are 0.
    pub fn light_on_with_timed_off(&mut self, now: Instant, t: TimedOff) {
        if t.accept_only_when_on && !self.light.on_off {
            debug!("OnWithTimedOff discarded: AcceptOnlyWhenOn and off");
            return;
        }
        if self.light.off_wait_time > 0 && !self.light.on_off {
            let v = self.light.off_wait_time.min(t.off_wait_time);
            self.set_off_wait_time(v);
        } else {
            let v = self.light.on_time.max(t.on_time);
            self.set_on_time(v);
            self.set_off_wait_time(t.off_wait_time);
            self.set_on_off(true);
            self.set_global_scene_control(true);
        }
        self.light.timed = true;
        self.light_rearm(now);
        debug!(
            on_time = self.light.on_time,
            off_wait_time = self.light.off_wait_time,
            "timed on/off countdown running"
        );
    }

    // ---- attribute writes ----

    /// Writes OnTime at `now` (it takes effect only while the countdown runs, §1.5.6.4).
    pub fn write_on_time(&mut self, now: Instant, v: u16) {
        self.set_on_time(v);
        self.light_rearm(now);
    }

    /// Writes OffWaitTime at `now` (it takes effect only while the countdown runs, §1.5.6.5).
    pub fn write_off_wait_time(&mut self, now: Instant, v: u16) {
        self.set_off_wait_time(v);
        self.light_rearm(now);
    }

    fn set_on_time(&mut self, v: u16) {
        if self.light.on_time != v {
            self.light.on_time = v;
            self.mark_changed(LIGHT_ENDPOINT, cluster_id::ON_OFF, Some(attr::ON_TIME));
        }
    }

    fn set_off_wait_time(&mut self, v: u16) {
        if self.light.off_wait_time != v {
            self.light.off_wait_time = v;
            self.mark_changed(
                LIGHT_ENDPOINT,
                cluster_id::ON_OFF,
                Some(attr::OFF_WAIT_TIME),
            );
        }
    }

    /// Writes StartUpOnOff.
    pub fn set_start_up_on_off(&mut self, v: Option<StartUpOnOff>) {
        if self.light.start_up_on_off != v {
            self.light.start_up_on_off = v;
            self.mark_changed(
                LIGHT_ENDPOINT,
                cluster_id::ON_OFF,
                Some(attr::START_UP_ON_OFF),
            );
        }
    }

    /// Sets IdentifyTime at `now` (the IdentifyTime write and the Identify command, §1.2.6.1):
    /// above 0 starts (or restarts) the 1 s countdown, 0 stops identifying.
    pub fn set_identify_time(&mut self, now: Instant, secs: u16) {
        debug!(secs, "identify time set");
        self.light.identify_time = secs;
        self.light.identify_tick = (secs > 0).then(|| now + IDENTIFY_STEP);
        self.mark_changed(
            LIGHT_ENDPOINT,
            cluster_id::IDENTIFY,
            Some(attr::IDENTIFY_TIME),
        );
    }

    // ---- start-up and timers ----

    /// Applies StartUpOnOff as at power-up (§1.5.6.6): null keeps the persisted OnOff, Off and On
    /// set it, Toggle inverts it. Queues [`Effect::OnOffChanged`] if OnOff changed.
    pub fn apply_start_up_on_off(&mut self) {
        let previous = self.light.on_off;
        let on = match self.light.start_up_on_off {
            None => previous,
            Some(StartUpOnOff::Off) => false,
            Some(StartUpOnOff::On) => true,
            Some(StartUpOnOff::Toggle) => !previous,
        };
        debug!(start_up = ?self.light.start_up_on_off, previous, on, "StartUpOnOff applied");
        self.set_on_off(on);
    }

    /// Runs the light's due countdown steps. Returns whether anything changed.
    pub(super) fn light_handle_timeout(&mut self, now: Instant) -> bool {
        let mut changed = false;
        // A late call (a suspended host) runs every step it missed, as the attributes would
        // have counted; a countdown is at most 2 x 65535 steps.
        while let Some(t) = self.light.timed_tick.filter(|t| *t <= now) {
            changed = true;
            self.timed_step();
            self.light.timed_tick = None;
            self.light_rearm(t);
        }
        while let Some(t) = self.light.identify_tick.filter(|t| *t <= now) {
            changed = true;
            let v = self.light.identify_time.saturating_sub(1);
            self.light.identify_time = v;
            self.mark_changed(
                LIGHT_ENDPOINT,
                cluster_id::IDENTIFY,
                Some(attr::IDENTIFY_TIME),
            );
            self.light.identify_tick = (v > 0).then(|| t + IDENTIFY_STEP);
            if v == 0 {
                debug!("identify finished");
            }
        }
        changed
    }

    /// One 1/10 s step of the OnWithTimedOff countdown (§1.5.7.6.4).
    ///
    /// Only a decrement to 0 switches the light off: an OnTime that is already 0 while on (an
    /// On during the Delayed Off guard clears OffWaitTime; a write of 0) leaves the light on, as
    /// the spec's steps say. (The CHIP SDK's timer switches off on any step that finds OnTime 0,
    /// which would turn off a light switched on during the guard.)
    fn timed_step(&mut self) {
        if self.light.on_off {
            if self.light.on_time > 0 {
                // Timed On: at 0 the light goes off, with no guard.
                let v = self.light.on_time - 1;
                self.set_on_time(v);
                if v == 0 {
                    debug!("timed on finished: off");
                    self.set_off_wait_time(0);
                    self.light_turn_off();
                }
            }
        } else if self.light.off_wait_time > 0 {
            // Delayed Off: OffWaitTime counts down; at 0 the guard ends.
            let v = self.light.off_wait_time - 1;
            self.set_off_wait_time(v);
            if v == 0 {
                debug!("delayed off guard finished");
            }
        }
    }

    /// Schedules the countdown's next step after a change at `now`: the countdown runs until
    /// OnTime and OffWaitTime are both 0, and a step is due only while one would count (a
    /// running step keeps its phase).
    fn light_rearm(&mut self, now: Instant) {
        let l = &mut self.light;
        if l.timed && l.on_time == 0 && l.off_wait_time == 0 {
            debug!("timed on/off countdown over");
            l.timed = false;
        }
        if !l.timed || !l.step_counts() {
            l.timed_tick = None;
        } else if l.timed_tick.is_none() {
            l.timed_tick = Some(now + TIMED_STEP);
        }
    }

    // ---- the attribute rules shared by the commands ----

    /// On with the Lighting feature's rules (§1.5.7.2, §1.5.6.3).
    fn light_turn_on(&mut self) {
        if self.light.on_time == 0 {
            self.set_off_wait_time(0);
        }
        self.set_on_off(true);
        self.set_global_scene_control(true);
    }

    /// Off with the Lighting feature's rules (§1.5.7.1).
    fn light_turn_off(&mut self) {
        self.set_on_time(0);
        self.set_on_off(false);
    }

    fn set_global_scene_control(&mut self, v: bool) {
        if self.light.global_scene_control != v {
            self.light.global_scene_control = v;
            self.mark_changed(
                LIGHT_ENDPOINT,
                cluster_id::ON_OFF,
                Some(attr::GLOBAL_SCENE_CONTROL),
            );
        }
    }

    fn set_on_off(&mut self, on: bool) {
        if self.light.on_off != on {
            self.light.on_off = on;
            debug!(on, "light switched");
            self.mark_changed(LIGHT_ENDPOINT, cluster_id::ON_OFF, Some(attr::ON_OFF));
            self.push_effect(Effect::OnOffChanged {
                endpoint: LIGHT_ENDPOINT,
                on,
            });
        }
    }
}
