//! berth's OCI runtime: turns a runtime spec (`config.json`) and a root
//! filesystem into an isolated process, as runc and crun do.
