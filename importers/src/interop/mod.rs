//! Interop formats other tools write and read: ATT&CK Navigator layers, VECTR's CSV export, and execution logs
//! (ATTiRe JSON, Invoke-AtomicRedTeam CSV). Pure like the parsers: bytes in, typed values (or a reason per
//! file and record) out; what they become in Aegis (views, test cases, executions) is decided by the caller.

pub mod execution_log;
pub mod navigator;
pub mod vectr;
