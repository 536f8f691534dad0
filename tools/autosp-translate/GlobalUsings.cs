// The IR's Type and Attribute win over System.Type and System.Attribute in this project.
global using AutoSpIR.IR;
global using Type = AutoSpIR.IR.Type;
global using Attribute = AutoSpIR.IR.Attribute;
