//! Attribute and command paths (Matter 1.3 §10.6.2 AttributePathIB, §10.6.11 CommandPathIB):
//! the request form with optional (wildcard) fields and the concrete form we report.

use crate::tlv::{Container, Tag, TlvError, TlvWriter};

/// An AttributePathIB as requested: an absent endpoint, cluster or attribute is a wildcard.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AttributePath {
    /// Node id (tag 1); only meaningful for group or proxy cases, ignored here.
    pub node: Option<u64>,
    /// Endpoint (tag 2), `None` = every endpoint.
    pub endpoint: Option<u16>,
    /// Cluster (tag 3), `None` = every cluster.
    pub cluster: Option<u32>,
    /// Attribute (tag 4), `None` = every attribute.
    pub attribute: Option<u32>,
    /// ListIndex (tag 5): absent, or `Some(None)` for null (append, writes only).
    pub list_index: Option<Option<u16>>,
    /// WildcardPathFlags (tag 6), 0 if absent.
    pub wildcard_flags: u32,
}

/// WildcardPathFlags bits (Matter 1.3 §10.6.2.1, "WildcardPathFlagsBitmap").
pub(crate) mod wildcard_flags {
    /// Skip the root node endpoint (0) when expanding an endpoint wildcard.
    pub(crate) const SKIP_ROOT_NODE: u32 = 1 << 0;
    /// Skip all global attributes when expanding an attribute wildcard.
    pub(crate) const SKIP_GLOBAL_ATTRIBUTES: u32 = 1 << 1;
    /// Skip AttributeList.
    pub(crate) const SKIP_ATTRIBUTE_LIST: u32 = 1 << 2;
    /// Skip AcceptedCommandList and GeneratedCommandList.
    pub(crate) const SKIP_COMMAND_LISTS: u32 = 1 << 4;
}

impl AttributePath {
    /// A concrete path.
    pub fn concrete(endpoint: u16, cluster: u32, attribute: u32) -> Self {
        Self {
            endpoint: Some(endpoint),
            cluster: Some(cluster),
            attribute: Some(attribute),
            ..Self::default()
        }
    }

    /// True if any of endpoint, cluster or attribute is a wildcard.
    pub fn is_wildcard(&self) -> bool {
        self.endpoint.is_none() || self.cluster.is_none() || self.attribute.is_none()
    }

    /// The concrete path, if this is one.
    pub fn as_concrete(&self) -> Option<ConcreteAttributePath> {
        Some(ConcreteAttributePath {
            endpoint: self.endpoint?,
            cluster: self.cluster?,
            attribute: self.attribute?,
        })
    }

    /// Parses an AttributePathIB (a list).
    ///
    /// # Errors
    /// A TLV error, including a field of the wrong type or range.
    pub fn parse(c: &Container<'_>) -> Result<Self, TlvError> {
        Ok(Self {
            node: c.opt_u64(1)?,
            endpoint: c.opt_u16(2)?,
            cluster: c.opt_u32(3)?,
            attribute: c.opt_u32(4)?,
            list_index: c.opt_nullable::<u16>(5)?,
            wildcard_flags: c.opt_u32(6)?.unwrap_or(0),
        })
    }

    /// Writes this path as an AttributePathIB under `tag`, omitting wildcard fields.
    ///
    /// # Errors
    /// [`TlvError::BufferFull`] from a limited writer.
    pub fn write(&self, w: &mut TlvWriter<'_>, tag: Tag) -> Result<(), TlvError> {
        w.start_list(tag)?;
        if let Some(n) = self.node {
            w.u64(Tag::Context(1), n)?;
        }
        if let Some(e) = self.endpoint {
            w.u16(Tag::Context(2), e)?;
        }
        if let Some(c) = self.cluster {
            w.u32(Tag::Context(3), c)?;
        }
        if let Some(a) = self.attribute {
            w.u32(Tag::Context(4), a)?;
        }
        match self.list_index {
            Some(Some(i)) => w.u16(Tag::Context(5), i)?,
            Some(None) => w.null(Tag::Context(5))?,
            None => {}
        }
        if self.wildcard_flags != 0 {
            w.u32(Tag::Context(6), self.wildcard_flags)?;
        }
        w.end_container()
    }
}

/// A concrete attribute path: one attribute of one cluster on one endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConcreteAttributePath {
    /// Endpoint id.
    pub endpoint: u16,
    /// Cluster id.
    pub cluster: u32,
    /// Attribute id.
    pub attribute: u32,
}

impl ConcreteAttributePath {
    /// Writes the path as an AttributePathIB list `{2: endpoint, 3: cluster, 4: attribute}`, the
    /// form the CHIP SDK reports (no node id, no tag compression).
    ///
    /// # Errors
    /// [`TlvError::BufferFull`] from a limited writer.
    pub fn write(&self, w: &mut TlvWriter<'_>, tag: Tag) -> Result<(), TlvError> {
        w.start_list(tag)?;
        w.u16(Tag::Context(2), self.endpoint)?;
        w.u32(Tag::Context(3), self.cluster)?;
        w.u32(Tag::Context(4), self.attribute)?;
        w.end_container()
    }
}

impl From<ConcreteAttributePath> for AttributePath {
    fn from(p: ConcreteAttributePath) -> Self {
        Self::concrete(p.endpoint, p.cluster, p.attribute)
    }
}

/// A CommandPathIB (a list `{0: endpoint, 1: cluster, 2: command}`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommandPath {
    /// Endpoint; a wildcard is only legal in group commands.
    pub endpoint: Option<u16>,
    /// Cluster.
    pub cluster: Option<u32>,
    /// Command.
    pub command: Option<u32>,
}

impl CommandPath {
    /// Parses a CommandPathIB.
    ///
    /// # Errors
    /// A TLV error.
    pub fn parse(c: &Container<'_>) -> Result<Self, TlvError> {
        Ok(Self {
            endpoint: c.opt_u16(0)?,
            cluster: c.opt_u32(1)?,
            command: c.opt_u32(2)?,
        })
    }

    /// Writes the path under `tag`, omitting absent fields.
    ///
    /// # Errors
    /// [`TlvError::BufferFull`] from a limited writer.
    pub fn write(&self, w: &mut TlvWriter<'_>, tag: Tag) -> Result<(), TlvError> {
        w.start_list(tag)?;
        if let Some(e) = self.endpoint {
            w.u16(Tag::Context(0), e)?;
        }
        if let Some(c) = self.cluster {
            w.u32(Tag::Context(1), c)?;
        }
        if let Some(c) = self.command {
            w.u32(Tag::Context(2), c)?;
        }
        w.end_container()
    }
}
