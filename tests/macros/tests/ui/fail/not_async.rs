use cloacina::{Context, TaskError, task};

#[task]
fn blocking(_context: &mut Context) -> Result<(), TaskError> {
    Ok(())
}

fn main() {}
