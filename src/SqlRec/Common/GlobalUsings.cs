// Every layer may use the common layer (see ARCHITECTURE.md), so its namespace is imported once here.
global using SqlRec.Common;
