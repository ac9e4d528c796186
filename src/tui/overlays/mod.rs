//! Views drawn over the panes; each module holds one overlay's state and its drawing.

pub mod command;
pub mod confirm;
pub mod help;
pub mod qr;
pub mod raw;
pub mod save;
pub mod script;
pub mod toast;
