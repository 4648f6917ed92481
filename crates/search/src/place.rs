//! Where a hit was found, as a scan first knows it: before the whole
//! export's attribution index is.

/// Where a hit was found, before the whole export is known.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Place {
    /// In a crash (its blob, an archive artefact, or its error log).
    Crash {
        app: Option<String>,
        error_id: String,
    },
    /// In a device-log record that belongs to no crash.
    Activity {
        app: Option<String>,
        install_id: Option<String>,
        message_type: String,
        object: String,
        index: usize,
        source: usize,
    },
    /// In an attachment (or its attachment log) whose crash the index
    /// knows.
    Attachment {
        attachment_id: String,
        object: String,
        /// The attachment log's position, when the hit is in one.
        index: Option<usize>,
        source: usize,
    },
    /// In an object nobody can be found for (in one of its device-log
    /// records when `index` is given).
    Unattributed {
        object: String,
        index: Option<usize>,
        reason: String,
        source: usize,
    },
}
