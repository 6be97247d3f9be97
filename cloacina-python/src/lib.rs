//! Python bindings for Cloacina; the binding arrives with the Python front end.
