//! [`ExecutionHandle`]: a started execution.

use std::time::Duration;

use uuid::Uuid;

use super::UnifiedExecutor;
use crate::error::ExecutorError;
use crate::result::{ExecutionResult, ExecutionStatus};

/// A started execution: wait for it, look at it, or cancel it.
#[derive(Debug, Clone)]
pub struct ExecutionHandle {
    executor: UnifiedExecutor,
    execution_id: Uuid,
    new: bool,
}

impl ExecutionHandle {
    pub(super) fn new(executor: UnifiedExecutor, execution_id: Uuid) -> Self {
        Self { executor, execution_id, new: true }
    }

    /// A handle on an execution started before, under the key a start gave.
    pub(super) fn existing(executor: UnifiedExecutor, execution_id: Uuid) -> Self {
        Self { executor, execution_id, new: false }
    }

    /// Whether the start that returned this handle started the execution; false when it found
    /// the execution already started under its key (see [`StartOptions::key`]).
    ///
    /// [`StartOptions::key`]: super::StartOptions::key
    pub fn is_new(&self) -> bool {
        self.new
    }

    /// The execution's id.
    pub fn execution_id(&self) -> Uuid {
        self.execution_id
    }

    /// Waits for the execution to finish and returns its result.
    pub async fn wait(&self) -> Result<ExecutionResult, ExecutorError> {
        self.executor.wait(self.execution_id, None).await
    }

    /// Waits at most `timeout`; fails with [`ExecutorError::WaitTimeout`] after that.
    pub async fn wait_timeout(&self, timeout: Duration) -> Result<ExecutionResult, ExecutorError> {
        self.executor.wait(self.execution_id, Some(timeout)).await
    }

    /// The execution's current status.
    pub async fn status(&self) -> Result<ExecutionStatus, ExecutorError> {
        self.executor.status(self.execution_id).await
    }

    /// Cancels the execution; returns its final status.
    pub async fn cancel(&self) -> Result<ExecutionStatus, ExecutorError> {
        self.executor.cancel(self.execution_id).await
    }
}
