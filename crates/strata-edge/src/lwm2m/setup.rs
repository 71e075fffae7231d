//! The objects a new client starts with: a bootstrap account and/or a management server
//! account (Security and Server instances), Device, Firmware Update and Temperature.

use super::alloc::collections::BTreeMap;
use super::alloc::string::String;
use super::alloc::vec::Vec;
use strata_proto_coap::lwm2m::{Path, Value};

use super::client::Client;
use super::objects::id;

/// Security Mode 3: NoSec.
const NO_SEC: i64 = 3;

impl<P: Ord + Copy> Client<P> {
    pub(crate) fn populate(&mut self) {
        let mut security = 0u16;
        if self.config.bootstrap_server.is_some() {
            let uri = self.config.bootstrap_uri.clone();
            self.security_instance(security, uri, true, None);
            security += 1;
        }
        if self.config.server.is_some() {
            let uri = self.config.server_uri.clone();
            let ssid = self.config.short_server_id;
            self.security_instance(security, uri, false, Some(ssid));
            self.server_instance(0, ssid);
        }
        self.device_instance();
        self.firmware_instance();
        for i in 0..self.config.temperature_sensors {
            self.store.create(id::TEMPERATURE, i);
            // Min/Max Measured Value appear with the first measurement (set_value).
            self.instance_defaults(id::TEMPERATURE, i);
        }
    }

    fn put(&mut self, object: u16, instance: u16, values: Vec<(u16, Value)>) {
        self.store.create(object, instance);
        for (r, v) in values {
            self.store.set(&Path::resource(object, instance, r), v);
        }
    }

    fn security_instance(&mut self, i: u16, uri: String, bootstrap: bool, ssid: Option<u16>) {
        let mut values = Vec::from([
            (0, Value::String(uri)),
            (1, Value::Boolean(bootstrap)),
            (2, Value::Integer(NO_SEC)),
            (3, Value::Opaque(Vec::new())),
            (4, Value::Opaque(Vec::new())),
            (5, Value::Opaque(Vec::new())),
        ]);
        if let Some(ssid) = ssid {
            values.push((10, Value::Integer(i64::from(ssid))));
        }
        self.put(id::SECURITY, i, values);
    }

    fn server_instance(&mut self, i: u16, ssid: u16) {
        let values = Vec::from([
            (0, Value::Integer(i64::from(ssid))),
            (1, Value::Integer(i64::from(self.config.lifetime))),
            (6, Value::Boolean(true)),
            (7, Value::String(self.config.binding.clone())),
        ]);
        self.put(id::SERVER, i, values);
    }

    fn device_instance(&mut self) {
        let d = self.config.device.clone();
        let values = Vec::from([
            (0, Value::String(d.manufacturer)),
            (1, Value::String(d.model)),
            (2, Value::String(d.serial)),
            (3, Value::String(d.firmware_version)),
            (14, Value::String("+00:00".into())),
            (15, Value::String("Etc/UTC".into())),
            // U (UDP) and Q (queue mode supported), Core §E.4 (1.1).
            (16, Value::String("UQ".into())),
            (17, Value::String(d.device_type)),
            (18, Value::String(d.hardware_version)),
            (19, Value::String(d.software_version)),
        ]);
        self.put(id::DEVICE, 0, values);
        // Error Code 0: no error.
        self.store.set_multiple(
            &Path::resource(id::DEVICE, 0, 11),
            BTreeMap::from([(0, Value::Integer(0))]),
        );
        self.refresh_clock(0);
    }

    fn firmware_instance(&mut self) {
        let values = Vec::from([
            (1, Value::String(String::new())),
            (3, Value::Integer(0)),
            (5, Value::Integer(0)),
            (6, Value::String(String::new())),
            (7, Value::String(String::new())),
            // Delivery method 2: pull and push.
            (9, Value::Integer(2)),
        ]);
        self.put(id::FIRMWARE, 0, values);
        // Protocol support 0: CoAP.
        self.store.set_multiple(
            &Path::resource(id::FIRMWARE, 0, 8),
            BTreeMap::from([(0, Value::Integer(0))]),
        );
    }
}
