use cloacina::{Context, TaskError, task, workflow};

#[task]
async fn extract(_context: &mut Context) -> Result<(), TaskError> {
    Ok(())
}

#[task(dependencies = ["extrct"])]
async fn load(_context: &mut Context) -> Result<(), TaskError> {
    Ok(())
}

fn main() {
    let _ = workflow! { name: "etl", tasks: [extract, load] };
}
