//! Errors of the engine's libvirt and QEMU rules, with libvirt's error classes.
//!
//! libvirt prefixes each message by the class of the error; keeping the class
//! lets the engine print exactly what libvirt would (`the CPU is incompatible
//! with host CPU: …`) while callers can still match on the kind of failure.

use std::fmt;

/// The class of a libvirt error, which decides the prefix of its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// `VIR_ERR_CPU_INCOMPATIBLE`: the guest CPU cannot run on the host.
    CpuIncompatible,
    /// `VIR_ERR_OPERATION_FAILED`: e.g. the live CPU differs from the definition.
    OperationFailed,
    /// `VIR_ERR_CONFIG_UNSUPPORTED`: the hypervisor cannot do what is asked.
    UnsupportedConfig,
    /// `VIR_ERR_INTERNAL_ERROR`: unknown models and features, impossible data.
    Internal,
    /// `VIR_ERR_INVALID_ARG`: the caller gave something unusable (no CPUs, no model).
    InvalidArgument,
}

/// An error reported by one of libvirt's CPU operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuError {
    pub class: ErrorClass,
    /// The message without libvirt's class prefix.
    pub message: String,
}

impl CpuError {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        CpuError {
            class,
            message: message.into(),
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Internal, message)
    }

    pub fn incompatible(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::CpuIncompatible, message)
    }

    pub fn operation_failed(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::OperationFailed, message)
    }

    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::UnsupportedConfig, message)
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::InvalidArgument, message)
    }

    /// libvirt's prefix for this error's class.
    pub fn prefix(&self) -> &'static str {
        match self.class {
            ErrorClass::CpuIncompatible => "the CPU is incompatible with host CPU: ",
            ErrorClass::OperationFailed => "operation failed: ",
            ErrorClass::UnsupportedConfig => "unsupported configuration: ",
            ErrorClass::Internal => "internal error: ",
            ErrorClass::InvalidArgument => "invalid argument: ",
        }
    }
}

impl fmt::Display for CpuError {
    /// The message as libvirt prints it, prefix included.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.prefix(), self.message)
    }
}

impl std::error::Error for CpuError {}
