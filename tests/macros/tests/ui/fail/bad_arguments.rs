use cloacina::{Context, TaskError, task};

#[task(retries = 3)]
async fn unknown_argument(_context: &mut Context) -> Result<(), TaskError> {
    Ok(())
}

#[task(trigger = "sometimes")]
async fn unknown_trigger(_context: &mut Context) -> Result<(), TaskError> {
    Ok(())
}

#[task(retry_backoff = "random")]
async fn unknown_backoff(_context: &mut Context) -> Result<(), TaskError> {
    Ok(())
}

fn main() {}
