//! What a subscription table has done: the counters of the run's `subscriptions` report,
//! their JSON form and the summary's line. Counting only: it never decides anything.

/// What a table has done, counted since it was made (the run's `subscriptions` report).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SubCounters {
    /// New SUBSCRIBEs (retransmissions not counted).
    pub subscribes: u64,
    /// Subscriptions accepted (200 to a SUBSCRIBE outside a dialog).
    pub accepted: u64,
    /// Subscriptions refreshed (200 to a SUBSCRIBE in the dialog).
    pub refreshed: u64,
    /// Subscriptions the platform ended (`Expires: 0`).
    pub unsubscribed: u64,
    /// Subscriptions that expired without a refresh.
    pub expired: u64,
    /// Subscriptions ended by a NOTIFY's 481 or 408 or its Timer F, or by their device's
    /// reboot (TeleBoot).
    pub dropped: u64,
    /// SUBSCRIBEs refused 503: the table was full.
    pub refused: u64,
    /// SUBSCRIBEs refused 489: a `CmdType` the device does not serve.
    pub bad_event: u64,
    /// In-dialog SUBSCRIBEs for no known subscription (481).
    pub unknown_dialog: u64,
    /// SUBSCRIBEs without the headers a transaction needs (400).
    pub malformed: u64,
    /// Retransmitted SUBSCRIBEs answered again.
    pub retransmits: u64,
    /// Catalog NOTIFYs sent (first sends), the first pages included.
    pub notify_catalog: u64,
    /// MobilePosition NOTIFYs sent.
    pub notify_position: u64,
    /// Alarm NOTIFYs sent (the first, with no alarm, included).
    pub notify_alarm: u64,
    /// Final NOTIFYs (`terminated`) sent.
    pub notify_final: u64,
    /// MobilePosition ticks skipped: the previous NOTIFY was still unanswered.
    pub positions_skipped: u64,
    /// Alarms raised by registered devices (as NOTIFYs or MESSAGEs).
    pub alarms: u64,
    /// Alarm MESSAGEs sent (alarms of devices without an Alarm subscription).
    pub alarm_messages: u64,
    /// Alarms due while their device was not registered: not raised.
    pub alarms_offline: u64,
    /// NOTIFY and alarm MESSAGE retransmissions sent.
    pub retransmissions: u64,
}

impl SubCounters {
    /// The fields with their JSON names, in order.
    pub fn fields(&self) -> [(&'static str, u64); 20] {
        [
            ("subscribes", self.subscribes),
            ("accepted", self.accepted),
            ("refreshed", self.refreshed),
            ("unsubscribed", self.unsubscribed),
            ("expired", self.expired),
            ("dropped", self.dropped),
            ("refused", self.refused),
            ("bad_event", self.bad_event),
            ("unknown_dialog", self.unknown_dialog),
            ("malformed", self.malformed),
            ("retransmits", self.retransmits),
            ("notify_catalog", self.notify_catalog),
            ("notify_position", self.notify_position),
            ("notify_alarm", self.notify_alarm),
            ("notify_final", self.notify_final),
            ("positions_skipped", self.positions_skipped),
            ("alarms", self.alarms),
            ("alarm_messages", self.alarm_messages),
            ("alarms_offline", self.alarms_offline),
            ("retransmissions", self.retransmissions),
        ]
    }

    fn fields_mut(&mut self) -> [&mut u64; 20] {
        let SubCounters {
            subscribes,
            accepted,
            refreshed,
            unsubscribed,
            expired,
            dropped,
            refused,
            bad_event,
            unknown_dialog,
            malformed,
            retransmits,
            notify_catalog,
            notify_position,
            notify_alarm,
            notify_final,
            positions_skipped,
            alarms,
            alarm_messages,
            alarms_offline,
            retransmissions,
        } = self;
        [
            subscribes,
            accepted,
            refreshed,
            unsubscribed,
            expired,
            dropped,
            refused,
            bad_event,
            unknown_dialog,
            malformed,
            retransmits,
            notify_catalog,
            notify_position,
            notify_alarm,
            notify_final,
            positions_skipped,
            alarms,
            alarm_messages,
            alarms_offline,
            retransmissions,
        ]
    }

    /// Adds `o`.
    pub fn add(&mut self, o: &SubCounters) {
        for (a, (_, b)) in self.fields_mut().into_iter().zip(o.fields()) {
            *a = a.saturating_add(b);
        }
    }

    /// The difference `self - before` of running totals (an interval's counts).
    pub fn since(&self, before: &SubCounters) -> SubCounters {
        let mut d = *self;
        for (a, (_, b)) in d.fields_mut().into_iter().zip(before.fields()) {
            *a = a.saturating_sub(b);
        }
        d
    }

    /// True when nothing happened.
    pub fn is_empty(&self) -> bool {
        self.fields().iter().all(|(_, v)| *v == 0)
    }

    /// The JSON object (the field names of [`fields`](Self::fields)).
    pub fn to_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        for (k, v) in self.fields() {
            m.insert(k.into(), serde_json::json!(v));
        }
        serde_json::Value::Object(m)
    }

    /// Reads [`to_json`](Self::to_json)'s object back (missing fields are 0).
    pub fn from_json(v: &serde_json::Value) -> SubCounters {
        let mut c = SubCounters::default();
        let names = c.fields();
        for (a, (name, _)) in c.fields_mut().into_iter().zip(names) {
            *a = v.get(name).and_then(serde_json::Value::as_u64).unwrap_or(0);
        }
        c
    }

    /// The summary's line.
    pub fn line(&self) -> String {
        format!(
            "subscriptions: SUBSCRIBEs {} (accepted {}, refreshed {}, unsubscribed {}, expired {}, dropped {}, refused {}, bad event {}, unknown dialog {}); NOTIFYs catalog {}, position {}, alarm {}, final {} (positions skipped {}); alarms {} (as MESSAGEs {}, device offline {})",
            self.subscribes,
            self.accepted,
            self.refreshed,
            self.unsubscribed,
            self.expired,
            self.dropped,
            self.refused,
            self.bad_event,
            self.unknown_dialog,
            self.notify_catalog,
            self.notify_position,
            self.notify_alarm,
            self.notify_final,
            self.positions_skipped,
            self.alarms,
            self.alarm_messages,
            self.alarms_offline,
        )
    }
}
