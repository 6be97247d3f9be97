//! Tenants on one PostgreSQL database, each pinned to its own schema, never see each other.

use std::sync::Arc;

use cloacina::{
    Context, ExecutionFilter, ExecutionStatus, ExecutorConfig, FunctionTask, UnifiedExecutor, Workflow,
    WorkflowRegistry,
};

use crate::support::{Backend, TestDatabase, test_config};

/// The same workflow name for every tenant; the task writes which tenant ran it.
fn tenant_workflow(tenant: &'static str) -> Workflow {
    Workflow::builder("billing")
        .task(FunctionTask::new("charge", move |mut context: Context| async move {
            context.insert("charged_by", tenant)?;
            Ok(context)
        }))
        .build()
        .unwrap()
}

async fn tenant_executor(url: &str, tenant: &'static str, config: ExecutorConfig) -> UnifiedExecutor {
    let registry = Arc::new(WorkflowRegistry::new());
    registry.register(tenant_workflow(tenant));
    UnifiedExecutor::open(url, config, registry).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_on_separate_schemas_never_see_each_other() {
    let Some(database) = TestDatabase::create(Backend::Postgres).await else { return };
    let tenant_a = tenant_executor(&format!("{}?schema=tenant_a", database.url), "a", test_config()).await;
    let tenant_b =
        tenant_executor(&database.url, "b", ExecutorConfig { schema: Some("tenant_b".into()), ..test_config() }).await;

    let (a, b) = tokio::join!(tenant_a.execute("billing", Context::new()), tenant_b.execute("billing", Context::new()));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!((a.status, b.status), (ExecutionStatus::Completed, ExecutionStatus::Completed));
    assert_eq!(a.context.get("charged_by").unwrap(), "a");
    assert_eq!(b.context.get("charged_by").unwrap(), "b");

    let listed_a = tenant_a.list_executions(ExecutionFilter::new()).await.unwrap();
    let listed_b = tenant_b.list_executions(ExecutionFilter::new()).await.unwrap();
    assert_eq!(listed_a.iter().map(|e| e.execution_id).collect::<Vec<_>>(), [a.execution_id]);
    assert_eq!(listed_b.iter().map(|e| e.execution_id).collect::<Vec<_>>(), [b.execution_id]);
    assert!(tenant_a.get_execution(b.execution_id).await.is_err(), "tenant a saw tenant b's execution");
    tenant_a.shutdown().await;
    tenant_b.shutdown().await;
}

#[tokio::test]
async fn schema_names_are_checked_and_postgres_only() {
    let bad = UnifiedExecutor::new("postgresql://postgres@127.0.0.1/db?schema=Robert';DROP").await.unwrap_err();
    assert!(bad.to_string().contains("is not a valid schema name"), "{bad}");

    let sqlite = ExecutorConfig { schema: Some("tenant".into()), ..ExecutorConfig::default() };
    let error = UnifiedExecutor::with_config("sqlite:///:memory:", sqlite).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid executor configuration: `schema` applies to PostgreSQL only; SQLite keeps each database in its own file"
    );

    let clash = ExecutorConfig { schema: Some("one".into()), ..ExecutorConfig::default() };
    let error = UnifiedExecutor::with_config("postgresql://postgres@127.0.0.1/db?schema=two", clash).await.unwrap_err();
    assert!(error.to_string().contains("but the URL names schema `two`"), "{error}");
}
