//! The most memory each service held, over all its processes (a restart
//! starts a new high-water mark).

use std::collections::BTreeMap;

use robotid_topology::{Service, Topology};

use crate::report::mib;

#[derive(Debug, Default)]
pub struct Peaks {
    peak: BTreeMap<Service, u64>,
}

impl Peaks {
    /// Takes in each running service's high-water mark so far.
    pub fn observe(&mut self, topology: &Topology) {
        for service in Service::ALL {
            if let Some(memory) = topology.memory(service) {
                let peak = self.peak.entry(service).or_default();
                *peak = (*peak).max(memory.peak_bytes);
            }
        }
    }

    pub fn of(&self, service: Service) -> Option<u64> {
        self.peak.get(&service).copied()
    }

    /// `issuance 41.2 MiB, registry 38.0 MiB`.
    pub fn summary(&self) -> String {
        self.peak
            .iter()
            .map(|(service, bytes)| format!("{service} {}", mib(*bytes)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
