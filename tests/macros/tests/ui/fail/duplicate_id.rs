use cloacina::{Context, TaskError, task, workflow};

#[task(id = "step")]
async fn first(_context: &mut Context) -> Result<(), TaskError> {
    Ok(())
}

#[task(id = "step")]
async fn second(_context: &mut Context) -> Result<(), TaskError> {
    Ok(())
}

fn main() {
    let _ = workflow! { name: "twice", tasks: [first, second] };
}
