//! PMS adapters against the simulators.

mod opendental;
