//! (placeholder: BlueZ shell, filled by its issue)
