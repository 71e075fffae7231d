//! Information reporting, sending side: noting changes for observers and sending the
//! notifications that are due (RFC 7641), with queue mode's wake-up first.

use strata_proto_coap::lwm2m::{Path, Value};
use strata_proto_coap::{Code, Token, option};

use super::attributes::NotificationAttributes;
use super::client::Client;
use super::config::ClientEvent;
use super::objects::id;
use super::reply::{self, Reply};
use super::store::Access;

impl<P: Ord + Copy> Client<P> {
    /// Notes that `path` changed for observers.
    pub(crate) fn changed(&mut self, path: &Path) {
        let defaults = self.default_attributes();
        let (store, attributes) = (&self.store, &self.attributes);
        self.observations
            .note_change(path, &|p| store.number(p), &|p| {
                attributes.effective(p, &defaults)
            });
    }

    /// Default pmin and pmax of the current server (/1/x/2, /1/x/3).
    pub(crate) fn default_attributes(&self) -> NotificationAttributes {
        let int = |r| match self
            .reg
            .server_instance(&self.store)
            .and_then(|i| self.store.value(&Path::resource(id::SERVER, i, r)))
        {
            Some(Value::Integer(v)) => u32::try_from(*v).ok(),
            _ => None,
        };
        NotificationAttributes {
            pmin: int(2),
            pmax: int(3),
            ..NotificationAttributes::default()
        }
    }

    /// In queue mode and asleep, with a wake-up (Update) already on its way or impossible:
    /// notification deadlines must not spin the caller.
    pub(crate) fn asleep_at_deadline(&self) -> bool {
        self.config.queue_mode && !self.reg.can_wake()
    }

    /// Sends the notifications that are due. In queue mode while asleep, wakes up with a
    /// registration update first; the notifications follow its response.
    pub(crate) fn flush_notifications(&mut self, now: u64) {
        let defaults = self.default_attributes();
        if self.config.queue_mode && now >= self.awake_until {
            let attributes = &self.attributes;
            let due = self
                .observations
                .any_due(now, &|p| attributes.effective(p, &defaults));
            if due && self.reg.can_wake() {
                self.update_soon(now);
            }
            return;
        }
        let (store, attributes) = (&self.store, &self.attributes);
        let due = self.observations.take_due(now, &|p| store.number(p), &|p| {
            attributes.effective(p, &defaults)
        });
        for (peer, token, path, format) in due {
            self.notify(now, peer, token, &path, format);
        }
    }

    fn notify(&mut self, now: u64, peer: P, token: Token, path: &Path, format: u16) {
        let confirmable = self.config.confirmable_notifications;
        let body = self
            .store
            .records(path, Access::Server)
            .map_err(Reply::code)
            .and_then(|records| reply::encode(format, path, &records));
        let seq = self.observe_seq.next_value();
        let sent = match body {
            Ok(payload) => {
                self.endpoint
                    .notify(now, peer, token, confirmable, Code::CONTENT, |w| {
                        w.uint_option(option::OBSERVE, seq)?;
                        w.uint_option(option::CONTENT_FORMAT, u32::from(format))?;
                        w.payload(&payload);
                        Ok(())
                    })
            }
            Err(error) => {
                // An error notification ends the observation (RFC 7641 §3.2).
                self.observations.remove(peer, token);
                self.events
                    .push_back(ClientEvent::ObservationCancelled { path: *path });
                self.endpoint
                    .notify(now, peer, token, confirmable, error.code, |w| {
                        w.payload(&error.payload);
                        Ok(())
                    })
            }
        };
        let _ = sent;
    }
}
