// AspIR.g4: the textual format of AutoSpIR (.aspir), MLIR-style.
//
// The grammar fixes the shape of the text; what an op name means (which
// custom form it takes, which attributes it needs) is decided afterwards by
// IrBuilder against the Context's dialect registry. Keep every rule LL(1)
// where possible: the parser runs in SLL mode first (see AspIRParserDriver).
//
// Regenerate grammar/generated/ after editing: grammar/regen.sh
grammar AspIR;

// ---------------------------------------------------------------- top level
//
// Every element the IR builder reads carries a label: the parser runs with
// BuildParseTree off (no child lists or terminal nodes are made) and the builder
// reads the labeled fields of each rule context instead.

file : ops+=operation* EOF ;

// The driver parses modules and functions piecewise (header, one op or block
// label at a time, closing brace), so only one op's parse tree is alive at a time.
openBrace  : '{' ;
closeBrace : '}' ;

operation
    : results=resultList? (generic=genericOperation | module=moduleOperation | func=funcOperation
                           | ret=returnOperation | call=callOperation | custom=customOperation)
    ;

// %r, %r:2, %a, %b
resultList : defs+=resultDef (',' defs+=resultDef)* '=' ;
resultDef  : name=VALUE_ID (':' count=INT)? ;

// "dialect.op"(%a, %b)[^succ] ({region}) {attrs} : (T, T) -> T
genericOperation
    : name=STRING '(' operands=valueList? ')' succ=successorList? regs=regionList? attrs=attrDict? ':' fnType=functionType
    ;

successorList : '[' blocks+=BLOCK_ID (',' blocks+=BLOCK_ID)* ']' ;
regionList    : '(' regions+=region (',' regions+=region)* ')' ;

// module @name attributes {..} { ops }
moduleOperation : header=moduleHeader body=region ;
moduleHeader    : kw=KW_MODULE sym=SYMBOL_ID? (KW_ATTRIBUTES attrs=attrDict)? ;

// func.func [private] @name(%a: T {attrs}, ...) -> (T {attrs}, ...) attributes {..} { body }
funcOperation : header=funcHeader body=region? ;
funcHeader
    : kw=KW_FUNC visibility=BARE_ID? sym=SYMBOL_ID '(' (args+=funcArg (',' args+=funcArg)*)? ')' (ARROW results=funcResults)?
      (KW_ATTRIBUTES attrs=attrDict)?
    ;
funcArg     : (name=VALUE_ID ':')? ty=type attrs=attrDict? ;   // names are absent in a declaration
funcResults : single=nonFunctionType | '(' (items+=funcResult (',' items+=funcResult)*)? ')' ;
funcResult  : ty=type attrs=attrDict? ;

// func.return %a, %b : T, T
returnOperation : kw=KW_RETURN (operands=valueList ':' types=typeList)? ;

// func.call @f(%a) : (T) -> T
callOperation : kw=KW_CALL callee=SYMBOL_ID '(' operands=valueList? ')' attrs=attrDict? ':' fnType=functionType ;

// The custom form shared by every registered op without a form of its own:
//   tensor.matmul %a, %b {attrs} : (T, T) -> T
//   tensor.add %a, %b : T                  (same operand and result type)
//   tensor.constant dense<1.0> : T         (one positional attribute)
customOperation : name=BARE_ID (operands=valueList | pos=positionalAttr)? attrs=attrDict? (':' spec=typeSpec)? ;

typeSpec
    : '(' operandTypes=typeList? ')' ARROW results=resultTypes   # fullFunctionTypeSpec
    | operandType=nonFunctionType (ARROW results=resultTypes)?   # shortTypeSpec
    ;

// ---------------------------------------------------------------- regions

region       : '{' ops+=operation* blocks+=block* '}' ;
block        : label=blockLabel ops+=operation* ;
blockLabel   : name=BLOCK_ID ('(' (args+=blockArg (',' args+=blockArg)*)? ')')? ':' ;
blockArg     : name=VALUE_ID ':' ty=type ;

valueList : ids+=VALUE_ID (',' ids+=VALUE_ID)* ;

// ---------------------------------------------------------------- types

type : plain=nonFunctionType | fn=functionType ;

// Where a '(' could open either a function type or a parenthesized list, only
// these are allowed bare; a function type there must be parenthesized. This keeps
// every decision LL(1), so prediction never scans a whole type ahead.
nonFunctionType
    : tensorToken=TENSOR_TYPE              // tensor<4x?xf32> without an encoding: one token
    | tensor=tensorType
    | scalar=BARE_ID                       // f32, i64, bf16, index, ...
    | dialect=DIALECT_TYPE body=dialectBody?   // !dist.token
    ;

tensorType   : kw=KW_TENSOR '<' shape=SHAPE? elem=BARE_ID (',' encoding=attribute)? '>' ;
functionType : '(' inputs=typeList? ')' ARROW results=resultTypes ;
resultTypes  : single=nonFunctionType | '(' list=typeList? ')' ;
typeList     : types+=type (',' types+=type)* ;

// ---------------------------------------------------------------- attributes

attrDict  : '{' (entries+=attrEntry (',' entries+=attrEntry)*)? '}' ;
attrEntry : key=attrKey ('=' value=attribute)? ;   // a key alone is a unit attribute
attrKey   : tok=(BARE_ID | STRING | KW_MODULE | KW_TENSOR | KW_DENSE | KW_ATTRIBUTES
          | KW_TRUE | KW_FALSE | KW_UNIT) ;

attribute
    : value=INT (':' ty=type)?                                    # intAttr
    | value=FLOAT (':' ty=type)?                                  # floatAttr
    | value=STRING                                                # stringAttr
    | KW_TRUE                                                     # trueAttr
    | KW_FALSE                                                    # falseAttr
    | KW_UNIT                                                     # unitAttr
    | '[' (items+=attribute (',' items+=attribute)*)? ']'         # arrayAttr
    | dict=attrDict                                               # dictAttr
    | sym=SYMBOL_ID                                               # symbolAttr
    | KW_DENSE '<' literal=denseLiteral? '>' ':' ty=type          # denseAttr
    | name=HASH_ID body=dialectBody?                              # dialectAttr
    | ty=type                                                     # typeAttr
    ;

// A positional attribute of the custom form: a literal whose type the op's result gives.
positionalAttr
    : tok=(INT | FLOAT | STRING | KW_TRUE | KW_FALSE | SYMBOL_ID)
    | dense=KW_DENSE '<' literal=denseLiteral? '>'
    ;

denseLiteral : scalar=denseScalar | '[' (items+=denseLiteral (',' items+=denseLiteral)*)? ']' ;
denseScalar  : tok=(INT | FLOAT | KW_TRUE | KW_FALSE) ;

// The body of a dialect attribute or type, kept as balanced text:
//   #dist.sharding<@mesh, [{}, {"sp"}, {}]>
dialectBody : '<' dialectItem* '>' ;
dialectItem
    : dialectBody
    | '[' dialectItem* ']' | '{' dialectItem* '}' | '(' dialectItem* ')'
    | VALUE_ID | SYMBOL_ID | BARE_ID | STRING | INT | FLOAT | SHAPE | HASH_ID | DIALECT_TYPE | TENSOR_TYPE
    | ',' | ':' | '=' | ARROW | '?' | KW_TENSOR | KW_DENSE | KW_TRUE | KW_FALSE | KW_UNIT
    ;

// ---------------------------------------------------------------- lexer

KW_MODULE     : 'module' ;
KW_FUNC       : 'func.func' ;
KW_RETURN     : 'func.return' ;
KW_CALL       : 'func.call' ;
KW_ATTRIBUTES : 'attributes' ;
KW_TENSOR     : 'tensor' ;
KW_DENSE      : 'dense' ;
KW_TRUE       : 'true' ;
KW_FALSE      : 'false' ;
KW_UNIT       : 'unit' ;

ARROW : '->' ;

// The common tensor type as a single token (the parser's hottest path); one with
// an encoding or with spaces inside falls back to the tensorType rule.
TENSOR_TYPE : 'tensor<' ((DIGITS | '?') 'x')* [a-zA-Z_] [a-zA-Z_0-9]* '>' ;

// The dimension list of a shaped type, trailing 'x' included: the "1x?x64x"
// of tensor<1x?x64xbf16>. Longest match keeps it one token.
SHAPE : (DIGITS | '?') 'x' ((DIGITS | '?') 'x')* ;

FLOAT
    : '-'? DIGITS '.' DIGITS? EXPONENT?
    | '-'? DIGITS EXPONENT
    | '-'? 'inf'
    | 'nan'
    ;
INT : '-'? DIGITS ;

VALUE_ID     : '%' SUFFIX_ID ('#' DIGITS)? ;
BLOCK_ID     : '^' SUFFIX_ID ;
SYMBOL_ID    : '@' (SUFFIX_ID | STRING_BODY) ;
HASH_ID      : '#' BARE ;
DIALECT_TYPE : '!' BARE ;
BARE_ID      : BARE ;
STRING       : STRING_BODY ;

LINE_COMMENT : '//' ~[\r\n]* -> skip ;
WS           : [ \t\r\n]+ -> skip ;

// Any other character is its own token, so the parser (not the lexer)
// reports it with a precise location.
ERROR_CHAR : . ;

fragment DIGITS      : [0-9]+ ;
fragment EXPONENT    : [eE] [+-]? DIGITS ;
fragment BARE        : [a-zA-Z_] [a-zA-Z_0-9$.]* ;
fragment SUFFIX_ID   : DIGITS | [a-zA-Z_$.\-] [a-zA-Z_0-9$.\-]* ;
fragment STRING_BODY : '"' (~["\\\r\n] | '\\' .)* '"' ;
