//! Who is calling. Every caller is named by a role and an organisation
//! (`robotid://ROLE/ORG`); a caller with no identity is the anonymous
//! public.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Regulator,
    Manufacturer,
    Seller,
    ServiceProvider,
    Operator,
    Recycler,
    Customs,
    /// Law enforcement, of the deployment's country: its organisation is
    /// `CC-UNIT` (`robotid://police/CN-POL`), as customs' is `CC-OFFICE`.
    Police,
    /// One of the Robot ID services itself.
    Service,
    /// A peer country's registry, by its country code
    /// (`robotid://registry/DE`): this deployment's CA issued it a
    /// certificate so that it can deliver the holds that cross borders, and
    /// that is all it may call.
    Registry,
    Public,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Regulator => "regulator",
            Role::Manufacturer => "manufacturer",
            Role::Seller => "seller",
            Role::ServiceProvider => "service-provider",
            Role::Operator => "operator",
            Role::Recycler => "recycler",
            Role::Customs => "customs",
            Role::Police => "police",
            Role::Service => "service",
            Role::Registry => "registry",
            Role::Public => "public",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [
            Role::Regulator,
            Role::Manufacturer,
            Role::Seller,
            Role::ServiceProvider,
            Role::Operator,
            Role::Recycler,
            Role::Customs,
            Role::Police,
            Role::Service,
            Role::Registry,
        ]
        .into_iter()
        .find(|role| role.as_str() == name)
    }
}

/// The identity a request was made with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Caller {
    pub role: Role,
    pub organization: String,
}

impl Caller {
    pub fn anonymous() -> Self {
        Self {
            role: Role::Public,
            organization: String::new(),
        }
    }

    /// From a certificate's SAN URI, `robotid://ROLE/ORG`.
    pub fn from_uri(uri: &str) -> Option<Self> {
        let rest = uri.strip_prefix("robotid://")?;
        let (role, organization) = rest.split_once('/')?;
        let role = Role::parse(role)?;
        if organization.is_empty() || organization.contains('/') {
            return None;
        }
        Some(Self {
            role,
            organization: organization.to_owned(),
        })
    }

    /// Reads the identity the transport attached to the request; anonymous
    /// when there is none.
    pub fn of<T>(request: &tonic::Request<T>) -> Self {
        request
            .extensions()
            .get::<Caller>()
            .cloned()
            .unwrap_or_else(Caller::anonymous)
    }

    pub fn is_anonymous(&self) -> bool {
        self.role == Role::Public
    }
}

impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_anonymous() {
            f.write_str("anonymous")
        } else {
            write!(f, "robotid://{}/{}", self.role.as_str(), self.organization)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn san_uris_name_role_and_organisation() {
        let caller = Caller::from_uri("robotid://customs/CN-SHA").unwrap();
        assert_eq!(caller.role, Role::Customs);
        assert_eq!(caller.organization, "CN-SHA");
        assert_eq!(caller.to_string(), "robotid://customs/CN-SHA");
        assert!(Caller::from_uri("robotid://pirate/x").is_none());
        let police = Caller::from_uri("robotid://police/CN-POL").unwrap();
        assert_eq!(police.role, Role::Police);
        assert!(Caller::from_uri("https://manufacturer/0001").is_none());
        let peer = Caller::from_uri("robotid://registry/DE").unwrap();
        assert_eq!(
            (peer.role, peer.organization.as_str()),
            (Role::Registry, "DE")
        );
        assert!(Caller::from_uri("robotid://manufacturer/").is_none());
    }
}
