//! Tasks in a module, listed by path.

mod stages {
    use cloacina::{Context, TaskError, task};

    #[task]
    pub async fn fetch(context: &mut Context) -> Result<(), TaskError> {
        context.insert("fetched", true)?;
        Ok(())
    }

    #[task(dependencies = ["fetch"])]
    pub async fn store(_context: &mut Context) -> Result<(), TaskError> {
        Ok(())
    }
}

fn main() {
    let pipeline = cloacina::workflow! { name: "modules", tasks: [stages::fetch, stages::store] };
    assert_eq!(pipeline.len(), 2);
}
